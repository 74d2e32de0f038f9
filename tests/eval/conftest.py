import shutil

import pytest

from mmabench.pipeline.build import build


@pytest.fixture(scope="session")
def _built_full(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo_full")
    build("full", home=home, progress=False)
    return home


@pytest.fixture
def demo_home(_built_full, tmp_path):
    """A private copy of a demo `full` build (all six conditions)."""
    home = tmp_path / "ws"
    shutil.copytree(_built_full, home)
    return home


@pytest.fixture(scope="session")
def tiny_omni(tmp_path_factory):
    """A tiny random-init Qwen2.5-Omni thinker + processor built offline (plumbing only)."""
    from tests.tinyomni import build_tiny_omni

    return build_tiny_omni(tmp_path_factory.mktemp("tiny_omni"))
