"""VP9 (as real Ego4D canonical videos) and the optional AAC audio track."""

from __future__ import annotations

import json

import av

from egodistill.synthetic import SynthConfig, generate


def test_vp9_video_with_audio(tmp_path):
    cfg = SynthConfig(out=str(tmp_path), videos=1, seconds=5.0, width=32, height=24, codec="vp9", workers=1)
    generate(cfg)
    meta = json.loads((tmp_path / "v2/ego4d.json").read_text())["videos"][0]
    assert meta["video_metadata"]["video_codec"] == "libvpx-vp9"
    assert meta["video_metadata"]["audio_codec"] == "aac"
    with av.open(str(tmp_path / "v2/full_scale" / f"{meta['video_uid']}.mp4")) as c:
        assert c.streams.video[0].codec_context.name in ("vp9", "libvpx-vp9")
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac" and audio.rate == 16000
        n = sum(1 for _ in c.decode(video=0))
    assert n == meta["video_metadata"]["num_frames"] == 150
    with av.open(str(tmp_path / "v2/full_scale" / f"{meta['video_uid']}.mp4")) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
    assert abs(samples / 16000 - 5.0) < 0.1


def test_audio_can_be_left_out(tmp_path):
    generate(
        SynthConfig(layout="epic", out=str(tmp_path), videos=1, seconds=5.0, width=32, height=24, audio=False)
    )
    with av.open(str(tmp_path / "P01/videos/P01_101.MP4")) as c:
        assert not c.streams.audio and c.streams.video[0].average_rate == 50
