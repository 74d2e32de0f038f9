"""Kept for `run_all.py` and old command lines: the av_swap figures are part of bench_synth.py now.

python benchmarks/bench_swap.py [--quick]
"""

from bench_synth import main

if __name__ == "__main__":
    main()
