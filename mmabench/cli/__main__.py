"""`python -m mmabench.cli`: the same as the `mmabench` command."""

from mmabench.cli import main

main()
