"""The public Python API: every name `mmabench` exports resolves, lazily."""

import subprocess
import sys

import mmabench


def test_every_public_name_resolves():
    for name in mmabench.__all__:
        assert getattr(mmabench, name) is not None, name


def test_import_is_lazy():
    """`import mmabench` must not pull the stages (or SQLAlchemy, PyAV): the CLI's --help stays instant."""
    code = (
        "import sys, mmabench; print(sorted(m for m in ('sqlalchemy', 'av', 'mmabench.pipeline') if m in sys.modules))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_the_version_literal_is_the_installed_distributions():
    """pyproject.toml takes its version from mmabench/version.py: the two cannot drift apart."""
    from importlib.metadata import version

    assert version("mmabench") == mmabench.__version__
