"""Process set-up shared by taggers: freed large blocks are kept for reuse, so the YAMNet front end does not
page-fault its intermediates in again on every clip."""

import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
from mmabench.taggers.base import keep_freed_memory
from mmabench.taggers.yamnet import patches
if sys.argv[1] == "keep":
    assert keep_freed_memory()
wav = np.random.default_rng(0).standard_normal(80000).astype(np.float32)  # 5 s at 16 kHz
patches(wav)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
patches(wav)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def second_clip_faults(mode: str) -> int:
    """Minor page faults of the second clip's log-mel patches, in a fresh process (malloc state is global)."""
    return int(subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_freed_blocks_are_reused_without_page_faults():
    assert second_clip_faults("default") > 500  # glibc hands the blocks back: ~1100 pages faulted in again
    assert second_clip_faults("keep") < 50
