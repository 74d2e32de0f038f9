"""load_audio on real files: any sample format and layout to mono float32 at the asked rate, one clean
resampling pass (no aliasing), and the decoded samples untouched when the stream is already at that rate."""

import wave

import av
import numpy as np

from mmabench.media import load_audio
from tests.mediagen import make_clip


def write_wav(path, channels: np.ndarray, rate: int):
    """channels: (c, n) floats in [-1, 1] -> 16-bit PCM WAV (decodes to packed s16, not float)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((channels.T * 32767).round().astype("<i2").tobytes())
    return path


def level(x: np.ndarray, rate: int, freq: float) -> float:
    """Amplitude of the component at `freq` (Hann-windowed spectrum peak, scaled to a sine's amplitude)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) * 4 / len(x)
    k = int(round(freq * len(x) / rate))
    return float(spec[k - 2 : k + 3].max())


def test_stereo_48k_pcm_becomes_16k_mono_without_aliasing(tmp_path):
    rate, n = 48000, 96000
    t = np.arange(n) / rate
    tone = 0.4 * np.sin(2 * np.pi * 1000 * t)
    above_nyquist = 0.2 * np.sin(2 * np.pi * 12000 * t)  # folds onto 4 kHz if decimated without a filter
    opposite = 0.2 * np.sin(2 * np.pi * 2000 * t)  # in antiphase on the two channels: cancels in the mix
    path = write_wav(
        tmp_path / "st.wav", np.stack([tone + above_nyquist + opposite, tone + above_nyquist - opposite]), rate
    )
    x = load_audio(path, 16000)
    assert x.dtype == np.float32 and x.ndim == 1 and abs(len(x) - 32000) <= 1
    mid = x[4000:-4000]
    assert abs(level(mid, 16000, 1000) - 0.4) < 0.01
    assert level(mid, 16000, 4000) < 1e-3  # the 12-kHz tone was filtered out, not folded
    assert level(mid, 16000, 2000) < 1e-3  # channels were averaged


def test_stream_at_the_asked_rate_is_returned_as_decoded(tmp_path):
    rng = np.random.default_rng(0)
    samples = np.clip(rng.standard_normal(16000) * 0.2, -1, 1)
    path = write_wav(tmp_path / "mono16k.wav", samples[None], 16000)
    x = load_audio(path, 16000)
    assert np.array_equal(x, (samples * 32767).round().astype(np.int16) / np.float32(32768))


def test_aac_in_mp4_is_resampled_and_a_video_only_file_has_no_audio(tmp_path):
    clip = make_clip(tmp_path / "a.mp4", seconds=2.0, rate=48000, freq=440.0)
    x = load_audio(clip, 16000)
    assert abs(len(x) - 32000) <= 1100  # AAC priming/padding: at most one 1024-sample frame at 48 kHz
    assert abs(level(x[4000:28000], 16000, 440) - 0.3) < 0.02
    assert load_audio(make_clip(tmp_path / "v.mp4", audio=False), 16000) is None


def test_stereo_aac_gathered_as_bytes_equals_the_per_frame_average(tmp_path):
    """Frames' planes are gathered as bytes and averaged once: the same samples as averaging each decoded
    frame's array (the path it replaced), bit for bit, for planar float (AAC) in stereo."""
    path = tmp_path / "st.mp4"
    rate, n = 48000, 48000
    t = np.arange(n) / rate
    left, right = 0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 1500 * t)
    with av.open(str(path), "w", format="mp4") as out:
        s = out.add_stream("aac", rate=rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.stack([left, right]).astype(np.float32), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = rate, 0
        for p in list(s.encode(frame)) + list(s.encode(None)):
            out.mux(p)
    with av.open(str(path)) as c:
        frames = [f for f in c.decode(c.streams.audio[0])]
        assert frames[0].format.name == "fltp" and frames[0].layout.nb_channels == 2
        ref = np.concatenate([f.to_ndarray().mean(axis=0, dtype=np.float32) for f in frames])
    assert np.array_equal(load_audio(path, rate), ref)
