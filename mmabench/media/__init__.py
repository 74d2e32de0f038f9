"""Media I/O in-process with PyAV: probe, validate, stream-copy remux, digital silence, black frames
(shared tracks, encoded once and stream-copied into each variant: `tracks`).

Why PyAV rather than an ffmpeg process per file: a stream-copy swap is ~10 ms in-process against ~30 ms of
process start-up, packets can be compared byte for byte in tests, and no system ffmpeg is needed.
Every writer goes through `atomic_output`: temp name, fsync (skipped for re-makeable variants), rename — a
killed build leaves no half file.
"""

from mmabench.media.decode import (
    DECODE_THREADS,
    crop_frame,
    decode_audio,
    load_audio,
    sample_frames,
    sample_stream_frames,
    sample_video_frames,
    wav_bytes,
)
from mmabench.media.files import (
    MUX_OPTIONS,
    MediaError,
    atomic_output,
    scratch_prefix,
    sha256_file,
    sweep_partials,
    tool_versions,
)
from mmabench.media.probe import MediaInfo, audio_peak_dbfs, probe, validate
from mmabench.media.store import FsspecStore, LocalStore, MediaStore, StoreError, check_key, open_store, store_for
from mmabench.media.tracks import TRACKS_DIR, black_video, silence
from mmabench.media.writers import NORMALIZE_RECIPE, normalize, remove_audio, remux, swap_audio, zero_frames

__all__ = [
    "DECODE_THREADS",
    "FsspecStore",
    "LocalStore",
    "MediaStore",
    "StoreError",
    "check_key",
    "open_store",
    "store_for",
    "MUX_OPTIONS",
    "NORMALIZE_RECIPE",
    "TRACKS_DIR",
    "MediaError",
    "MediaInfo",
    "atomic_output",
    "audio_peak_dbfs",
    "black_video",
    "crop_frame",
    "decode_audio",
    "load_audio",
    "normalize",
    "probe",
    "remove_audio",
    "remux",
    "sample_frames",
    "sample_stream_frames",
    "sample_video_frames",
    "scratch_prefix",
    "sha256_file",
    "silence",
    "swap_audio",
    "sweep_partials",
    "tool_versions",
    "validate",
    "wav_bytes",
    "zero_frames",
]
