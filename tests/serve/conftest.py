import shutil

import pytest

from mmabench.eval.runner import evaluate
from mmabench.tagging.filter import run_filter
from tests.eval.conftest import _built_full  # noqa: F401  (one demo `full` build per session)


@pytest.fixture(scope="session")
def served_home(_built_full, tmp_path_factory):  # noqa: F811
    """A demo `full` build with two runs (random, majority) and real filter decisions (imagenet + yamnet);
    shared by the viewer's tests, which only read it."""
    home = tmp_path_factory.mktemp("serve") / "ws"
    shutil.copytree(_built_full, home)
    for model in ("random", "majority"):
        evaluate(model, split="full", home=home)
    run_filter(home=home)
    return home


@pytest.fixture(scope="session")
def served_db(served_home):
    return f"sqlite:///{served_home / 'manifest.db'}"
