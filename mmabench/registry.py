"""One small typed registry, reused for sources, taggers, conflict ops, prompt templates and model adapters.

Entries are registered as "module:attr" strings so nothing heavy is imported until it is used; a failed
import names the extra to install, and an unknown name gets a did-you-mean.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Callable, Generic, TypeVar, Union

T = TypeVar("T")


class RegistryError(LookupError):
    pass


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, tuple[Union[str, T], str | None]] = {}

    def register(self, name: str, target: Union[str, T, None] = None, *, extra: str | None = None):
        """`register("demo", "mmabench.sources.demo:DemoSource")` or use as a decorator."""
        if target is None:

            def deco(obj: T) -> T:
                self._entries[name] = (obj, extra)
                return obj

            return deco
        self._entries[name] = (target, extra)
        return target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> T:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise RegistryError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}")
        target, extra = self._entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            try:
                obj = getattr(importlib.import_module(module), attr)
            except ImportError as e:
                need = f" Install it with: pip install 'mmabench[{extra}]'." if extra else ""
                raise RegistryError(f"{self.kind} {name!r} needs a missing dependency ({e.name}).{need}") from e
            self._entries[name] = (obj, extra)
            return obj
        return target


Factory = Callable[..., object]
sources: Registry[Factory] = Registry("source")
sources.register("demo", "mmabench.sources.demo:DemoSource")
sources.register("folder", "mmabench.sources.folder:FolderSource")
sources.register("audioset", "mmabench.sources.audioset:AudioSetSource", extra="ingest")
sources.register("list", "mmabench.sources.listfile:ListSource", extra="ingest")
