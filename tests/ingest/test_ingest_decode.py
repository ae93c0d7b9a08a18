"""Seek-aware sparse decoding: the picks equal full decoding for every codec; failures are reasons."""

from __future__ import annotations

import av
import numpy as np
import pytest
from ingestfakes import frame_index, write_video

from egodistill.ingest.decode import VideoDecodeError, decode_at, probe
from egodistill.ingest.frames import FrameTransform

IDENTITY = FrameTransform(None, None)

CODECS = {
    "h264.mp4": dict(codec="libx264", gop=15),
    "h264_long_gop.mp4": dict(codec="libx264", gop=None),
    "hevc_open_gop.mp4": dict(codec="libx265", gop=12),
    "vp9.webm": dict(codec="libvpx-vp9", gop=20),
    "mpeg4.mp4": dict(codec="mpeg4", gop=10),
    "h264_vfr.mp4": dict(codec="libx264", gop=10, vfr_steps_ms=(20, 50, 33, 90)),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("decode_videos")
    out = {}
    for name, kw in CODECS.items():
        out[name] = (root / name, write_video(root / name, seconds=6.0, **kw))
    return out


def _all_times(path) -> np.ndarray:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return np.array([float(f.pts * s.time_base) for f in c.decode(s)])


@pytest.mark.parametrize("name", list(CODECS))
def test_picks_equal_full_decode(videos, name):
    path, written = videos[name]
    times = _all_times(path)
    assert np.allclose(times, written, atol=1e-3)
    rng = np.random.default_rng(len(name))
    for trial in range(12):
        targets = np.sort(rng.uniform(-0.05, times[-1] + 0.3, int(rng.integers(1, 10))))
        gap = (0.8, 2.0, 100.0)[trial % 3]
        r = decode_at(str(path), targets, IDENTITY, max_offset_sec=0.1, seek_gap_sec=gap)
        for t in targets:
            j = int(np.argmin(np.abs(times - t)))
            got = r.frames.get(float(t))
            if abs(times[j] - t) > 0.1:
                assert got is None
                continue
            assert got is not None, (name, t, gap)
            assert got.time_sec == pytest.approx(times[j], abs=1e-9)
            assert frame_index(got.image) == j % 256


def test_sparse_times_decode_less_than_the_whole_stream(videos):
    path, written = videos["h264.mp4"]
    r = decode_at(str(path), [0.2, 5.5], IDENTITY, seek_gap_sec=2.0)
    assert set(r.frames) == {0.2, 5.5}
    assert r.frames_decoded < len(written) / 2


def test_info_and_probe(videos):
    info = probe(str(videos["vp9.webm"][0]))
    assert info.codec == "vp9" and (info.width, info.height) == (64, 48)
    assert info.duration_sec == pytest.approx(6.0, abs=0.05)


def test_beyond_end_and_before_start_are_reasons(videos):
    path, _ = videos["h264.mp4"]
    r = decode_at(str(path), [1.0, 7.5, -1.0], IDENTITY)
    assert set(r.frames) == {1.0}
    assert r.missing_reason(7.5, 0.1)[0] == "clip_beyond_stream_end"
    assert r.missing_reason(-1.0, 0.1)[0] == "clip_before_stream_start"


def test_truncated_stream_is_reported(tmp_path):
    src = tmp_path / "a.mkv"
    write_video(src, seconds=6.0)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    r = decode_at(str(cut), [1.0, 5.0], IDENTITY)
    assert 1.0 in r.frames and 5.0 not in r.frames
    assert r.missing_reason(5.0, 0.1)[0] == "video_truncated"


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "video_missing"), (b"", "video_unreadable"), (b"\x00garbage" * 500, "video_unreadable")],
)
def test_unopenable_files_raise_with_reason(tmp_path, content, reason):
    path = tmp_path / "v.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoDecodeError) as e:
        decode_at(str(path), [1.0], IDENTITY)
    assert e.value.reason == reason


def test_transform_is_applied_to_picked_frames_only(videos):
    calls = []

    def transform(frame):
        calls.append(frame.pts)
        return IDENTITY(frame)

    path, _ = videos["h264.mp4"]
    r = decode_at(str(path), [1.0, 1.001, 3.0], transform)
    assert len(r.frames) == 3 and len(calls) == 2  # 1.0 and 1.001 share a frame


def test_remote_filesystems_are_read_through_a_seekable_handle(videos, monkeypatch):
    import pyarrow.fs as pafs

    from egodistill.ingest import decode

    path, _ = videos["h264.mp4"]
    local = decode_at(str(path), [0.5, 4.0], IDENTITY)
    remote_fs = pafs.SubTreeFileSystem("/", pafs.LocalFileSystem())  # any non-local pyarrow filesystem
    monkeypatch.setattr(
        decode.storage, "resolve", lambda uri: (remote_fs, str(uri).split("://", 1)[-1].lstrip("/"))
    )
    remote = decode_at(f"remote://{path}", [0.5, 4.0], IDENTITY)
    assert {t: f.time_sec for t, f in remote.frames.items()} == {
        t: f.time_sec for t, f in local.frames.items()
    }
    assert all(np.array_equal(remote.frames[t].image, local.frames[t].image) for t in local.frames)
    with pytest.raises(VideoDecodeError) as e:
        decode_at(f"remote://{path}.missing", [1.0], IDENTITY)
    assert e.value.reason == "video_missing"


def test_a_file_without_a_video_stream_is_unreadable(tmp_path):
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for p in [*stream.encode(frame), *stream.encode()]:
            out.mux(p)
    with pytest.raises(VideoDecodeError) as e:
        decode_at(str(path), [0.0], IDENTITY)
    assert e.value.reason == "video_unreadable" and "no video stream" in e.value.detail
