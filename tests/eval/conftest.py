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
