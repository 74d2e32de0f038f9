"""Media payloads: prepared once (single-flight) in worker processes, kept on disk per stream by content (files
whose streams are copies share their parts), never served from a partial or corrupt cache file; the bytes
are the ones the old path sent, except the JPEGs, whose format changed on purpose (PREP_VERSION 2: one
encoder per file at a fixed quantiser)."""

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from mmabench.adapters import media as media_mod
from mmabench.adapters.base import Request
from mmabench.adapters.media import JPEG_Q, MediaParts, PayloadSpec, prepare_parts
from mmabench.adapters.openai_compat import OpenAICompatAdapter
from mmabench.adapters.payloads import PayloadStore, cache_file
from mmabench.eval.runner import fingerprint
from mmabench.media import load_audio, sample_video_frames, sha256_file, wav_bytes
from mmabench.schema import Condition, Item, Modality, Split
from tests.llmpeer import LLMPeer
from tests.mediagen import make_clip

SPEC = PayloadSpec(frames=4)


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4", seconds=2.0, size=(96, 64))


def _store(tmp_path, **kw):
    return PayloadStore(tmp_path / "cache", workers=2, **kw)


def _files(tmp_path, suffix: str) -> list[Path]:
    return sorted((tmp_path / "cache").rglob(f"*{suffix}"))


def test_concurrent_asks_for_one_file_prepare_it_once(tmp_path, clip):
    store = _store(tmp_path)
    sha = sha256_file(clip)
    go = threading.Barrier(12)
    got: list[MediaParts] = []

    def ask():
        go.wait()
        got.append(store.get(clip, sha, SPEC))

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert store.counts == {"decoded": 1} and store.made == {"frames": 1, "audio": 1}
    assert len(got) == 12 and all(g is got[0] for g in got)  # one Future, one result object
    assert len(got[0].frames) == 4 and got[0].audio_wav is not None
    # the file's index (its parts' keys) and one part per stream
    assert [p.name for p in _files(tmp_path, ".streams")] == [f"{SPEC.key(sha)}.streams"]
    assert len(_files(tmp_path, ".payload")) == 2


def test_the_disk_cache_survives_a_new_process_and_is_keyed_by_content(tmp_path, clip):
    store = _store(tmp_path)
    first = store.get(clip, sha256_file(clip), SPEC)
    store.close()
    code = (
        "import json, sys; from pathlib import Path;"
        "from mmabench.adapters.payloads import PayloadStore; from mmabench.adapters.media import PayloadSpec;"
        "s = PayloadStore(Path(sys.argv[1]), workers=1); p = s.get(sys.argv[2], None, PayloadSpec(frames=4));"
        "s.close(); print(json.dumps({'counts': dict(s.counts), 'frames': [f.hex() for f in p.frames], 'wav': p.audio_wav.hex()}))"
    )
    copy = tmp_path / "elsewhere" / "same-bytes.mp4"  # the same content under another name: the same payload
    copy.parent.mkdir()
    copy.write_bytes(clip.read_bytes())
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "cache"), str(copy)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["counts"] == {"disk": 1}
    assert [bytes.fromhex(f) for f in out["frames"]] == list(first.frames) and bytes.fromhex(
        out["wav"]
    ) == first.audio_wav
    # other bytes at the same path (the same pictures, another tone): another file key; its video stream is the
    # same, so only the audio part is made (the old entries stay for the old content)
    make_clip(clip, seconds=2.0, size=(96, 64), freq=880.0)
    store = _store(tmp_path)
    again = store.get(clip, sha256_file(clip), SPEC)
    store.close()
    assert store.counts == {"decoded": 1} and store.made == {"audio": 1}
    assert again.audio_wav != first.audio_wav and again.frames == first.frames
    assert len(_files(tmp_path, ".streams")) == 2 and len(_files(tmp_path, ".payload")) == 3


def test_variants_that_copy_a_stream_share_its_part_and_get_the_bytes_of_their_own_decode(tmp_path):
    """av_swap copies its video from one clip and its audio from another, remove_audio copies the video and
    takes a shared silent track: their parts are the clips' (and the silence's), byte for byte what decoding
    the variant itself gives."""
    from mmabench.media import remove_audio, swap_audio

    a = make_clip(tmp_path / "a.mp4", seconds=2.0, size=(96, 64), freq=440.0)
    b = make_clip(tmp_path / "b.mp4", seconds=2.0, size=(96, 64), freq=660.0, gop=5)
    swap, quiet, quiet2 = tmp_path / "swap.mp4", tmp_path / "quiet.mp4", tmp_path / "quiet2.mp4"
    swap_audio(a, b, swap)
    remove_audio(a, quiet, tracks=tmp_path / "tracks")
    remove_audio(b, quiet2, tracks=tmp_path / "tracks")
    files = [a, b, swap, quiet, quiet2]
    assert len({sha256_file(f) for f in files}) == 5
    store = PayloadStore(tmp_path / "cache", workers=1)  # one worker: the order below is the order of work
    got = [store.get(f, sha256_file(f), SPEC) for f in files]
    store.close()
    # a, b: both parts made; swap: nothing; quiet: the silence; quiet2: nothing (b's video, the same silence)
    assert store.counts == {"decoded": 3, "shared": 2} and store.made == {"frames": 2, "audio": 3}
    assert got[2].frames == got[0].frames and got[2].audio_wav == got[1].audio_wav
    assert got[3].frames == got[0].frames and got[3].sent["audio"]["silent"] and got[4].audio_wav == got[3].audio_wav
    for f, g in zip(files, got):
        alone = prepare_parts(f, SPEC)
        assert (g.frames, g.audio_wav, g.sent) == (alone.frames, alone.audio_wav, alone.sent), f.name


def test_a_stream_digest_follows_what_decoding_reads(tmp_path, clip):
    """A remux (other file bytes, the same packets) keeps both digests; a cut changes both; a digest covers the
    packets' side data too (the AAC priming an edit list skips is side data on the first packet)."""
    from mmabench.adapters.media import Demuxed
    from mmabench.media import remux

    def digests(path):
        with Demuxed(path) as d:
            return d.digest(d.video), d.digest(d.audio)

    twin, cut = tmp_path / "twin.mp4", tmp_path / "cut.mp4"
    remux(clip, twin)
    remux(clip, cut, 0.0, 1.0)
    a, b, c = digests(clip), digests(twin), digests(cut)
    assert a == b and a[0] != c[0] and a[1] != c[1]
    with Demuxed(clip) as d:
        sides = [s.data_type for p in d.packets[d.audio.index] for s in p.iter_sidedata()]
    assert "skip_samples" in sides


def test_workers_racing_on_one_stream_make_its_part_once(tmp_path, clip):
    """Two files with the same streams (one remuxed from the other: other bytes, the same packets) asked at
    once from two workers: the shard lock lets one make each part and the other read it."""
    from mmabench.media import remux

    twin = tmp_path / "twin.mp4"
    remux(clip, twin)
    assert sha256_file(twin) != sha256_file(clip)
    for _ in range(3):
        shutil.rmtree(tmp_path / "cache", ignore_errors=True)
        store = _store(tmp_path)
        futs = [store.prefetch(f, None, SPEC) for f in (clip, twin)]
        (p1, _, _), (p2, _, _) = (f.result() for f in futs)
        store.close()
        assert store.made == {"frames": 1, "audio": 1} and (p1.frames, p1.audio_wav) == (p2.frames, p2.audio_wav)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "other_key", "empty"])
def test_a_partial_or_corrupt_cache_file_is_not_served(tmp_path, clip, damage):
    sha = sha256_file(clip)
    store = _store(tmp_path)
    good = store.get(clip, sha, SPEC)
    store.close()
    index = cache_file(tmp_path / "cache", SPEC.key(sha), ".streams")
    key = json.loads(index.read_text())["audio"]
    f = cache_file(tmp_path / "cache", key)
    data = f.read_bytes()
    if damage == "truncated":
        f.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "flipped":  # one bit in the WAV body: the body hash no longer matches
        f.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    elif damage == "other_key":  # a whole, intact payload written for other content
        other = make_clip(tmp_path / "other.mp4", seconds=1.0, freq=300.0)
        f.write_bytes(prepare_parts(other, SPEC).to_bytes(SPEC.key(sha256_file(other))))
    else:
        f.write_bytes(b"")
    store = _store(tmp_path)
    got = store.get(clip, sha, SPEC)
    store.close()
    assert store.counts == {"decoded": 1} and store.made == {"audio": 1}  # the intact frames part is read back
    assert got.frames == good.frames and got.audio_wav == good.audio_wav and got.sent == good.sent
    assert MediaParts.from_bytes(f.read_bytes(), key) is not None  # rewritten whole


@pytest.mark.parametrize("damage", ["truncated", "wrong_kinds", "empty"])
def test_a_damaged_index_is_rebuilt_from_the_parts(tmp_path, clip, damage):
    sha = sha256_file(clip)
    store = _store(tmp_path)
    good = store.get(clip, sha, SPEC)
    store.close()
    index = cache_file(tmp_path / "cache", SPEC.key(sha), ".streams")
    text = index.read_text()
    index.write_text({"truncated": text[:-5], "wrong_kinds": '{"frames": null}', "empty": ""}[damage])
    store = _store(tmp_path)
    got = store.get(clip, sha, SPEC)
    store.close()
    assert store.counts == {"shared": 1} and not store.made  # demuxed again; both parts read back
    assert (got.frames, got.audio_wav, got.sent) == (good.frames, good.audio_wav, good.sent)
    assert index.read_text() == text


def test_a_file_that_is_not_the_content_it_was_asked_under_gets_no_index(tmp_path, clip):
    store = _store(tmp_path)
    parts = store.get(clip, "0" * 64, SPEC)  # the manifest's sha256 does not match the bytes on disk
    store.close()
    assert len(parts.frames) == 4 and not _files(tmp_path, ".streams")
    # its parts are keyed by what was read, so they are kept and serve the file under its true sha256
    store = _store(tmp_path)
    again = store.get(clip, sha256_file(clip), SPEC)
    store.close()
    assert store.counts == {"shared": 1} and again.frames == parts.frames


def _item(modality: Modality, prompt: str, options: list[str], answer: str) -> Item:
    return Item(
        id="i",
        build="b",
        variant_id="v",
        split=Split.conflict,
        condition=Condition.aligned,
        prompt_modality=modality,
        prompt=prompt,
        options=options,
        answer=answer,
    )


def _fresh_jpeg(frame) -> bytes:
    cc = av.CodecContext.create("mjpeg", "w")
    cc.width, cc.height, cc.pix_fmt = frame.width, frame.height, "yuvj420p"
    cc.time_base = frame.time_base or 1
    cc.qmin = cc.qmax = JPEG_Q
    return b"".join(bytes(p) for p in [*cc.encode(frame.reformat(format="yuvj420p")), *cc.encode(None)])


def test_payload_bytes_match_the_old_path_and_the_jpeg_change_is_versioned(clip, monkeypatch):
    parts = prepare_parts(clip, PayloadSpec(frames=6))
    # the WAV is the old path's, byte for byte (load_audio at 16 kHz mono, then wav_bytes)
    assert parts.audio_wav == wav_bytes(load_audio(clip, 16000), 16000)
    # each JPEG is what an encoder opened for that frame alone makes: sharing one encoder changes nothing
    frames = sample_video_frames(clip, 6)
    assert list(parts.frames) == [_fresh_jpeg(f) for f in frames]
    for jpg, f in zip(parts.frames, frames):  # and it is the sampled frame
        with av.open(__import__("io").BytesIO(jpg)) as c:
            back = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
        assert np.abs(back - f.to_ndarray(format="rgb24").astype(int)).mean() < 6
    # the format change is in the cache key and in the predictions' fingerprint
    item = _item(Modality.visual, "Which?", ["a", "b"], "a")
    adapter = OpenAICompatAdapter("m", base_url="http://127.0.0.1:9/v1")
    key, fp = SPEC.key("ab" * 32), fingerprint(adapter, item, "ab" * 32)
    monkeypatch.setattr(media_mod, "PREP_VERSION", 1)
    monkeypatch.setattr("mmabench.adapters.openai_compat.PREP_VERSION", 1)
    assert SPEC.key("ab" * 32) != key and fingerprint(adapter, item, "ab" * 32) != fp


def test_the_adapter_posts_the_prepared_parts(tmp_path, clip):
    """The request body carries exactly the prepared JPEGs and WAV (base64), then the prompt."""
    import base64

    adapter = OpenAICompatAdapter("m", base_url="http://127.0.0.1:9/v1", frames=4)
    item = _item(Modality.audio, 'Say "hi"', ["a"], "a")
    adapter.start(tmp_path / "cache", 2)
    req = Request(item, clip, sha256_file(clip))
    adapter.ahead(req)
    body, sent = adapter.body(req)
    adapter.finish()
    msg = json.loads(body)
    assert (msg["model"], msg["max_tokens"], msg["temperature"]) == ("m", 32, 0.0)
    parts = msg["messages"][0]["content"]
    want = prepare_parts(clip, SPEC)
    assert [base64.b64decode(p["image_url"]["url"].split(",", 1)[1]) for p in parts[:4]] == list(want.frames)
    assert base64.b64decode(parts[4]["input_audio"]["data"]) == want.audio_wav
    assert parts[5] == {"type": "text", "text": 'Say "hi"'} and len(parts) == 6
    assert sent["frames"] == 4 and sent["audio"] == want.sent["audio"]
    assert adapter.media_counts == {"decoded": 1}


@pytest.mark.parametrize("mode", ["frames", "url"])
def test_the_media_json_is_byte_for_byte_json_dumps_of_the_parts(tmp_path, clip, mode):
    """The body's media is spliced as bytes around the base64, not built with json.dumps: the same bytes."""
    import base64

    adapter = OpenAICompatAdapter("m", base_url="http://127.0.0.1:9/v1", frames=3, video_mode=mode)
    req = Request(_item(Modality.visual, "Which?", ["a", "b"], "a"), clip, sha256_file(clip))
    parts = prepare_parts(clip, adapter.spec)
    media, _ = adapter._media_json(parts, req)
    b64 = lambda b: base64.b64encode(b).decode()
    want = [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + b64(f)}} for f in parts.frames]
    if mode == "url":
        want = [{"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + b64(clip.read_bytes())}}]
    want.append({"type": "input_audio", "input_audio": {"data": b64(parts.audio_wav), "format": "wav"}})
    assert media == b"".join(json.dumps(p).encode() + b"," for p in want)


def test_without_the_runner_media_is_prepared_once_in_the_asking_threads(clip):
    """The judge calls generate() with no start(): no worker processes, no disk cache, still single-flight."""
    item = _item(Modality.visual, "Is there a cat? Answer yes or no.", ["yes", "no"], "yes")
    with LLMPeer(answer=lambda prompt, options: "yes") as peer:
        adapter = OpenAICompatAdapter("m", base_url=peer.url + "/v1", frames=2)
        go = threading.Barrier(6)
        texts = []

        def ask():
            go.wait()
            texts.append(adapter.generate(Request(item, clip, None)).text)

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    store = adapter.store()
    assert texts == ["yes."] * 6 and store.counts == {"decoded": 1} and store._pool is None
    assert len(peer.calls) == 6 and all(c["images"] == 2 and len(c["audio_peak"]) == 1 for c in peer.calls)


def _zoo(tmp_path) -> list[Path]:
    """Clips of several geometries, rates and GOPs and the variants a build makes of them: stream copies
    (swap, remux), cuts, shared black and silent tracks, a file with its moov at the end."""
    from mmabench.media import remove_audio, remux, swap_audio, zero_frames

    a = make_clip(tmp_path / "a.mp4", seconds=2.0, size=(96, 64), freq=440.0)
    b = make_clip(tmp_path / "b.mp4", seconds=2.0, size=(96, 64), freq=660.0, gop=5)
    c = make_clip(tmp_path / "c.mp4", seconds=1.5, size=(64, 48), fps=20, rate=22050, faststart=False)
    d = make_clip(tmp_path / "d.mp4", seconds=2.0, size=(96, 64), freq=440.0, silent=True)
    out = [a, b, c, d]
    for name, make in [
        ("swap_ab", lambda p: swap_audio(a, b, p)),
        ("swap_ba", lambda p: swap_audio(b, a, p)),
        ("quiet_a", lambda p: remove_audio(a, p, tracks=tmp_path / "tracks")),
        ("quiet_b", lambda p: remove_audio(b, p, tracks=tmp_path / "tracks")),
        ("black_a", lambda p: zero_frames(a, p, tracks=tmp_path / "tracks")),
        ("black_d", lambda p: zero_frames(d, p, tracks=tmp_path / "tracks")),
        ("twin_c", lambda p: remux(c, p)),
        ("cut_a", lambda p: remux(a, p, 0.0, 1.0)),
    ]:
        make(tmp_path / f"{name}.mp4")
        out.append(tmp_path / f"{name}.mp4")
    return out


def test_sample_table_digests_group_streams_exactly_as_the_packet_digests_do(tmp_path):
    """The cache key of a part comes from the MP4's tables (no demux) where it can: over a zoo of clips and
    variants, two streams share a table digest exactly when they share a digest of their demuxed packets
    (what decoding reads), so the cache hits are the same: shared where the stream bytes are, never else."""
    from mmabench.adapters.media import Demuxed
    from mmabench.media.mp4tables import stream_digests

    files = _zoo(tmp_path)
    for kind in ("video", "audio"):
        pairs = []
        for f in files:
            tables = stream_digests(f.read_bytes())
            assert tables is not None, f.name
            with Demuxed(f) as d:
                stream = d.video if kind == "video" else d.audio
                pairs.append((tables[kind], d.digest(stream) if stream is not None else None))
        by_tables = [[x[0] == y[0] for y in pairs] for x in pairs]
        by_packets = [[x[1] == y[1] for y in pairs] for x in pairs]
        assert by_tables == by_packets, kind
        assert 1 < len({t for t, _ in pairs}) < len(files)  # some streams shared, some not: the test bites


def test_a_file_whose_parts_exist_is_not_opened_in_ffmpeg(tmp_path, clip, monkeypatch):
    """A remux of a prepared clip (other bytes, the same streams) is served from the clip's parts on its
    tables' digests alone; a file they do not cover (fragmented) is demuxed and digested as before."""
    from mmabench.adapters import payloads
    from mmabench.media import remux

    twin, frag = tmp_path / "twin.mp4", tmp_path / "frag.mp4"
    remux(clip, twin)
    with (
        av.open(str(clip)) as i,
        av.open(str(frag), "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"}) as o,
    ):
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for p in i.demux():
            if p.size:
                p.stream = streams[p.stream.index]
                o.mux(p)
    store = PayloadStore(tmp_path / "cache", workers=0)
    first = store.get(clip, sha256_file(clip), SPEC)
    opened = []
    real = payloads.Demuxed
    monkeypatch.setattr(payloads, "Demuxed", lambda *a, **k: opened.append(a[0]) or real(*a, **k))
    again = store.get(twin, sha256_file(twin), SPEC)
    assert opened == [] and (again.frames, again.audio_wav) == (first.frames, first.audio_wav)
    fragged = store.get(frag, sha256_file(frag), SPEC)
    alone = prepare_parts(frag, SPEC)
    assert opened == [str(frag)] and (fragged.frames, fragged.audio_wav) == (alone.frames, alone.audio_wav)
    assert store.counts == {"decoded": 2, "shared": 1}


def test_workers_fork_with_the_decoders_lazy_imports_done(tmp_path):
    """soxr (and the numpy.typing it pulls in) costs ~35 ms to import: imported once before the workers fork,
    not once in each worker on its first file. In a fresh process, where nothing imported it before."""
    script = f"""
import sys
from mmabench.adapters.payloads import PayloadStore

def imported(name):
    return name in sys.modules

assert "soxr" not in sys.modules
store = PayloadStore({str(tmp_path / "cache")!r}, workers=1)
print(store._executor().submit(imported, "soxr").result(), store._executor().submit(imported, "wave").result())
store.close()
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True"]
