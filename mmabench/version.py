"""The installed version, from the package metadata (a leaf: importing it imports nothing of ours)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mmabench")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"
