"""The house's walls: each room (top-level package or module of mmabench) sits on a floor and imports only
rooms on lower floors. Rooms on one floor are independent (stages meet only through the manifest and schema).
Every import statement counts, including those inside functions; registry targets are strings and do not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "mmabench"

FLOORS: list[set[str]] = [
    {"schema", "registry", "logs", "version", "plots", "data", "ratelimit"},  # 1: records, ids, helpers
    {"config", "cluster"},  # 2: build configuration, paths; Ray helpers (lazy `import ray`)
    {"media", "db", "taxonomy"},  # 3: media I/O, manifest, ontology
    {"taggers", "adapters"},  # 4: models: taggers, MLLM adapters
    {"sources", "tagging", "synth"},  # 5: the build stages
    {"pipeline", "eval"},  # 6: orchestration; evaluation
    {"export", "train"},  # 7: releases, tuning
    {"serve"},  # 8: the viewer
    {"cli"},  # 9: the Typer app
]
FLOOR = {room: i for i, rooms in enumerate(FLOORS, 1) for room in rooms}


def imported_rooms(path: Path) -> set[str]:
    """Rooms of mmabench that one file imports ('' = the top package itself)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "mmabench" else [f"mmabench.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "mmabench":
                out.add(parts[1] if len(parts) > 1 else "")
    return out


def violations(pkg: Path, floor: dict[str, int]) -> list[str]:
    found = []
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg)
        if rel in (Path("__init__.py"), Path("__main__.py")):
            continue  # the public façade (lazy API, `python -m mmabench`) may reach every floor
        room = rel.parts[0].removesuffix(".py")
        if room not in floor:
            found.append(f"{rel}: room {room!r} is on no floor (add it to FLOORS)")
            continue
        for other in sorted(imported_rooms(path) - {room}):
            if other == "" or other not in floor:
                found.append(f"{rel} imports the top package (mmabench.{other}): import the room itself")
            elif floor[other] >= floor[room]:
                kind = "a room on the same floor" if floor[other] == floor[room] else "a higher floor"
                found.append(f"{rel} (floor {floor[room]}) imports {other} ({kind}, floor {floor[other]})")
    return found


def test_no_room_imports_upward_or_sideways():
    assert violations(PKG, FLOOR) == []


def test_every_room_is_small():
    """No room holds more than ~15% of the code, so none becomes the next `builder/`."""
    lines = {room: 0 for room in FLOOR}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel not in (Path("__init__.py"), Path("__main__.py")):
            lines[rel.parts[0].removesuffix(".py")] += len(path.read_text().splitlines())
    total = sum(lines.values())
    assert {r: n for r, n in lines.items() if n > 0.16 * total} == {}


@pytest.mark.parametrize(
    "source,expected",
    [
        ("from mmabench.pipeline.build import build\n", "imports pipeline (a higher floor"),
        ("from mmabench import eval\n", "imports eval (a higher floor"),
        ("def f():\n    import mmabench.synth.items\n", "imports synth (a room on the same floor"),
        ("import mmabench\n", "imports the top package"),
    ],
)
def test_the_contract_catches_a_wall_broken(tmp_path, source, expected):
    """A fixture package where `sources` (floor 5) breaks the rules: the checker must say so."""
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "__init__.py").write_text(source)
    (tmp_path / "schema.py").write_text("from mmabench.media import probe\n")  # floor 1 -> 2: also caught
    found = violations(tmp_path, FLOOR)
    assert any(expected in v for v in found) and any("schema.py (floor 1) imports media" in v for v in found)
