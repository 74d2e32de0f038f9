"""Stream digests of an MP4 read from its sample tables, without opening it in FFmpeg.

Why: a payload part is keyed by its stream's digest (adapters.media), and most files of a build share their
streams with others (stream copies), so for most files the digest is all that is needed. Opening a file in
PyAV and demuxing its ~360 packets into Python objects costs ~3 ms; reading the `moov` box and hashing the
samples where the tables say they lie, ~0.3 ms.

What a digest covers is what the demuxer reads to make a track's packets, less where they lie in the file:
the `ftyp`, the movie timescale and every other `moov`-level box but the tracks (metadata can carry gapless
info the demuxer applies), and of the track every box as stored, except times, ids and durations in
`tkhd`/`mdhd` and the chunk tables (`stco`/`co64`, and `stsc` where the samples are variable-sized: then
each sample is one packet whatever the chunking); then the samples' bytes in order (their boundaries are in
`stsz`). So a stream copied into another file (other interleaving, other tracks beside it) keeps its digest,
and any change to what decoding reads changes it. The digest is only a cache key: a file this reader does
not fully understand (not ISO-BMFF, fragmented, several sample descriptions or tracks of one kind, external
data) gets None, and the caller digests its demuxed packets instead.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Iterator, Optional

TAG = b"mmabench mp4 sample tables v1"
_CONTAINERS = {b"trak", b"mdia", b"minf", b"dinf", b"stbl"}  # descended into; every other box is hashed as stored


class _Unsupported(Exception):
    pass


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in data[start:end]."""
    at = start
    while at < end:
        if end - at < 8:
            raise _Unsupported("truncated box header")
        size, kind = struct.unpack_from(">I4s", data, at)
        head = 8
        if size == 1:
            if end - at < 16:
                raise _Unsupported("truncated box header")
            (size,) = struct.unpack_from(">Q", data, at + 8)
            head = 16
        elif size == 0:
            size = end - at
        if size < head or at + size > end:
            raise _Unsupported(f"box {kind!r} overruns its parent")
        yield kind, at + head, at + size
        at += size


def stream_digests(data: bytes) -> Optional[dict[str, Optional[str]]]:
    """{"video": digest or None, "audio": digest or None} for the file's one video and one audio track (None
    where it has no such track), or None where the file is not a plain MP4 this reader fully covers."""
    try:
        return _digests(data)
    except (_Unsupported, struct.error, IndexError, ValueError, KeyError):
        return None


def _digests(data: bytes) -> dict[str, Optional[str]]:
    top: dict[bytes, tuple[int, int]] = {}
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind in (b"moof", b"mfra") or kind in top and kind == b"moov":
            raise _Unsupported("fragmented or several movies")
        top.setdefault(kind, (start, end))
    if b"moov" not in top or b"ftyp" not in top:
        raise _Unsupported("no moov or ftyp")
    common = hashlib.sha256(TAG)
    _put(common, b"ftyp", data[slice(*top[b"ftyp"])])
    tracks: dict[bytes, list[tuple[int, int]]] = {}
    for kind, start, end in _boxes(data, *top[b"moov"]):
        if kind == b"trak":
            tracks.setdefault(_handler(data, start, end), []).append((start, end))
        elif kind == b"mvhd":
            _put(common, b"mvhd.timescale", _timescale(data, start, b"mvhd"))
        elif kind == b"mvex":
            raise _Unsupported("fragmented")
        else:
            _put(common, kind, data[start:end])
    out: dict[str, Optional[str]] = {}
    for name, handler in (("video", b"vide"), ("audio", b"soun")):
        found = tracks.get(handler, [])
        if len(found) > 1:  # which one FFmpeg calls the first is not this reader's to guess
            raise _Unsupported(f"{len(found)} {name} tracks")
        out[name] = _track(data, *found[0], common.copy()) if found else None
    return out


def _put(h: "hashlib._Hash", kind: bytes, payload: bytes) -> None:
    h.update(kind + len(payload).to_bytes(8, "big") + payload)


def _handler(data: bytes, start: int, end: int) -> bytes:
    for kind, s, e in _boxes(data, start, end):
        if kind == b"mdia":
            for k2, s2, _ in _boxes(data, s, e):
                if k2 == b"hdlr":
                    return data[s2 + 8 : s2 + 12]
    raise _Unsupported("a track without a handler")


def _timescale(data: bytes, start: int, kind: bytes) -> bytes:
    """mvhd / mdhd: the timescale (times, durations and ids around it differ between copies of a stream)."""
    at = start + (20 if data[start] == 1 else 12)
    return data[at : at + 4]


def _track(data: bytes, start: int, end: int, h: "hashlib._Hash") -> str:
    tables: dict[bytes, bytes] = {}
    handler = _handler(data, start, end)

    def walk(s: int, e: int) -> None:
        for kind, a, b in _boxes(data, s, e):
            if kind in _CONTAINERS:
                _put(h, kind, b"")
                walk(a, b)
            elif kind == b"tkhd":  # flags, then everything after the duration (layer, volume, matrix, size)
                _put(h, kind, data[a + 1 : a + 4] + data[a + (36 if data[a] == 1 else 24) : b])
            elif kind == b"mdhd":
                _put(h, kind, _timescale(data, a, kind))
            elif kind in (b"stco", b"co64", b"stsc", b"stsz", b"stz2", b"dref"):
                if kind in tables:
                    raise _Unsupported(f"two {kind!r} boxes")
                tables[kind] = data[a:b]
                if kind not in (b"stco", b"co64", b"stsc"):
                    _put(h, kind, data[a:b])
            elif kind == b"stsd":
                _put(h, kind, _sample_description(data, a, b, handler))
            else:
                _put(h, kind, data[a:b])

    walk(start, end)
    dref = tables.get(b"dref", b"")
    # one self-contained data reference ('url ' with flag 1): the samples are in this file
    if dref[4:8] != b"\0\0\0\1" or dref[12:16] != b"url " or dref[19] & 1 != 1:
        raise _Unsupported("samples outside the file")
    if b"stz2" in tables or b"stsz" not in tables or b"stsc" not in tables:
        raise _Unsupported("no sample size or chunk table")
    sizes, const = _sizes(tables[b"stsz"])
    if const:  # fixed-size samples (PCM): the demuxer makes packets of chunks, so the chunking matters
        _put(h, b"stsc", tables[b"stsc"])
    offsets = _offsets(tables)
    runs = _runs(tables[b"stsc"], len(offsets))
    view, i = memoryview(data), 0
    for off, n in zip(offsets, runs):
        size = sum(sizes[i : i + n])
        if n <= 0 or i + n > len(sizes) or off + size > len(data):
            raise _Unsupported("samples past the tables or the file")
        h.update(view[off : off + size])
        i += n
    if i != len(sizes):
        raise _Unsupported("samples the chunks do not hold")
    return h.hexdigest()


def _sample_description(data: bytes, start: int, end: int, handler: bytes) -> bytes:
    """The `stsd` box with its bitrate fields zeroed (`btrt`; the `esds` decoder config's buffer size and max /
    average bitrate): a muxer writes what it measured of the track, so a stream copy may state another
    bitrate than its source, and no decoder reads them (the packet digest never covered them either)."""
    if struct.unpack_from(">I", data, start + 4)[0] != 1:
        raise _Unsupported("several sample descriptions")
    out = bytearray(data[start:end])
    entry = 8  # the one sample entry, within `out`: size, format, then the fixed fields of its kind
    if handler == b"vide":
        children = entry + 86
    elif handler == b"soun":
        version = struct.unpack_from(">H", out, entry + 16)[0]
        children = entry + {0: 36, 1: 52, 2: 72}[version]  # KeyError: an unknown layout, not digested
    else:
        raise _Unsupported("a sample entry of another kind")
    size = struct.unpack_from(">I", out, entry)[0]
    if entry + size != len(out):
        raise _Unsupported("a sample entry that does not fill its box")
    for kind, a, b in _boxes(bytes(out), children, len(out)):
        if kind == b"btrt":
            out[a:b] = bytes(b - a)
        elif kind == b"esds":
            _zero_esds_rates(out, a, b)
    return bytes(out)


def _zero_esds_rates(out: bytearray, start: int, end: int) -> None:
    at = start + 4  # version and flags
    tag, at = _descriptor(out, at, end)
    if tag != 0x03:
        raise _Unsupported("an esds without an ES descriptor")
    flags = out[at + 2]
    at += 3 + (2 if flags & 0x80 else 0)  # ES_ID, flags, dependsOn_ES_ID
    if flags & 0x40:
        at += 1 + out[at]  # URL
    at += 2 if flags & 0x20 else 0  # OCR_ES_ID
    tag, at = _descriptor(out, at, end)
    if tag != 0x04 or at + 13 > end:
        raise _Unsupported("an ES descriptor without a decoder config")
    out[at + 2 : at + 13] = bytes(11)  # object type, stream type kept; buffer size, max and average bitrate


def _descriptor(out: bytearray, at: int, end: int) -> tuple[int, int]:
    """(tag, where its body starts) of an MPEG-4 descriptor (a tag, then a length in 7-bit groups)."""
    tag = out[at]
    at += 1
    for _ in range(4):
        if at >= end:
            break
        more = out[at] & 0x80
        at += 1
        if not more:
            return tag, at
    raise _Unsupported("a malformed descriptor length")


def _sizes(stsz: bytes) -> tuple[list[int], bool]:
    size, count = struct.unpack_from(">II", stsz, 4)
    if size:
        return [size] * count, True
    return list(struct.unpack_from(f">{count}I", stsz, 12)), False


def _offsets(tables: dict[bytes, bytes]) -> tuple[int, ...]:
    if (b"stco" in tables) == (b"co64" in tables):
        raise _Unsupported("no chunk offsets, or two tables of them")
    raw = tables.get(b"stco") or tables[b"co64"]
    (count,) = struct.unpack_from(">I", raw, 4)
    return struct.unpack_from(f">{count}{'I' if b'stco' in tables else 'Q'}", raw, 8)


def _runs(stsc: bytes, chunks: int) -> list[int]:
    """Samples in each chunk, from the sample-to-chunk runs (first chunk, samples per chunk, description)."""
    (count,) = struct.unpack_from(">I", stsc, 4)
    entries = [struct.unpack_from(">III", stsc, 8 + 12 * k) for k in range(count)]
    out: list[int] = []
    for k, (first, per, desc) in enumerate(entries):
        last = entries[k + 1][0] - 1 if k + 1 < count else chunks
        if desc != 1 or first != len(out) + 1 or last < first - 1:
            raise _Unsupported("sample-to-chunk runs out of order")
        out += [per] * (last - first + 1)
    if len(out) != chunks:
        raise _Unsupported("chunk count mismatch")
    return out
