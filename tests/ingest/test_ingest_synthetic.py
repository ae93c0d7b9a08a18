"""Done-means check on both synthetic layouts: synth -> index -> ingest -> rows decode to the rendered frames.

The synthetic world can re-render any frame exactly as it was encoded (``rebuild_video(...).render(t)``),
so each stored JPEG is compared with the render at the frame's recorded timestamp, passed through
the same resize/crop: it must be close (H.264 CRF 23 + JPEG at 64x48 leave ~9-13 grey levels of mean
error) and closer than the renders 0.1 s earlier or later (so the right frame was picked, not just
a similar one). IMU windows must equal the datasets readers' own output for the same manifest row.
"""

from __future__ import annotations

import numpy as np
import pytest

from egodistill.datasets.config import IndexConfig
from egodistill.datasets.imu import ImuWindowConfig, clip_imu_window
from egodistill.datasets.manifest import build_manifest, write_manifest
from egodistill.ingest import store
from egodistill.ingest.config import IngestConfig
from egodistill.ingest.frames import FrameTransform, decode_jpeg
from egodistill.ingest.pipeline import run_ingest
from egodistill.synthetic import SynthConfig, generate, rebuild_video

pytestmark = pytest.mark.ray

SIZE = 40  # short side and crop: exercises the resize and the centre crop of a 64x48 video


@pytest.fixture(scope="module", params=["ego4d", "epic"])
def ingested(request, ray_session, tmp_path_factory):
    layout = request.param
    root = tmp_path_factory.mktemp(f"synth_{layout}")
    data = root / "data"
    generate(
        SynthConfig(
            layout=layout, out=str(data), videos=2, seconds=15, width=64, height=48, audio=False, workers=1
        )
    )
    index_cfg = IndexConfig(dataset=layout, root=str(data), min_class_instances=1)
    result = build_manifest(index_cfg)
    assert result.manifest.num_rows >= 4, result.quarantine.counts()
    manifest = root / "manifest.parquet"
    write_manifest(result.manifest, str(manifest), index_cfg)
    out = root / "clips"
    summary = run_ingest(
        IngestConfig(
            manifest=str(manifest),
            out=str(out),
            frames={"short_side": SIZE, "crop_size": SIZE},
            resources={"progress_bars": False},
        )
    )
    return layout, data, result.manifest, out, summary


def test_every_clip_is_ingested(ingested):
    _, _, manifest, out, summary = ingested
    assert summary.ok and summary.rows_written == manifest.num_rows and summary.rows_quarantined == 0
    assert store.read_clips(str(out)).num_rows == manifest.num_rows


def test_frames_decode_to_the_render_at_their_timestamps(ingested):
    _, data, _, out, _ = ingested
    transform = FrameTransform(SIZE, SIZE)
    worlds: dict[str, object] = {}
    for row in store.read_clips(str(out)).to_pylist():
        world = worlds.setdefault(row["video_id"], rebuild_video(data, row["video_id"]))
        images = [*row["frames"], row["first_frame"], row["last_frame"]]
        times = [*row["frame_time_sec"], row["first_frame_time_sec"], row["last_frame_time_sec"]]
        targets = [*row["frame_target_sec"], row["sample_start_sec"], row["sample_end_sec"]]
        fps = row["video_fps"]
        for jpeg, t, target in zip(images, times, targets, strict=True):
            assert abs(t - target) <= 0.5 / fps + 1e-6  # the nearest frame of a constant-rate stream
            got = decode_jpeg(jpeg).astype(np.float32)
            assert got.shape == (SIZE, SIZE, 3)

            def err(at: float, got=got, world=world) -> float:
                return float(np.abs(got - transform.apply_array(world.render(at)).astype(np.float32)).mean())

            here = err(t)
            assert here < 16.0, (row["clip_id"], t, here)
            for other in (t - 0.1, t + 0.1):
                if 0.0 <= other <= 15.0 - 1.0 / fps:
                    assert here < err(other), (row["clip_id"], t, other)


def test_imu_windows_equal_the_readers_output(ingested):
    _, _, manifest, out, _ = ingested
    by_id = {r["clip_id"]: r for r in manifest.to_pylist()}
    for row in store.read_clips(str(out)).to_pylist():
        ref = clip_imu_window(by_id[row["clip_id"]], ImuWindowConfig())
        samples = np.asarray(row["imu"], dtype=np.float32).reshape(
            row["imu_num_samples"], row["imu_num_channels"]
        )
        assert np.array_equal(samples, ref.samples)
        assert np.array_equal(np.asarray(row["imu_mask"]), ref.mask)
        assert row["imu_coverage"] == pytest.approx(by_id[row["clip_id"]]["imu_coverage"], abs=1e-6)
