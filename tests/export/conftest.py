from tests.eval.conftest import _built_full, demo_home  # noqa: F401  (one demo `full` build per session)
