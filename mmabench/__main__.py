"""`python -m mmabench`: the same as the `mmabench` command."""

from mmabench.cli import main

main()
