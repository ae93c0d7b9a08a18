"""The frozen-f_I feature cache: one row per clip, the encoder's numbers, resumable, joined inputs."""

from __future__ import annotations

import numpy as np
import torch

from egodistill.features.image_cache import (
    ImageCacheConfig,
    decode_pool,
    read_image_features,
    run_image_cache,
    to_input,
)
from egodistill.ingest.store import read_clips


def test_cache_matches_the_encoder_and_is_resumable(student_ws):
    cfg = ImageCacheConfig(clips=str(student_ws / "clips"), workspace=str(student_ws), weights="none",
                           model_name="image_test", rows_per_file=5)  # fmt: skip
    first = run_image_cache(cfg)
    assert len(first) == 1 and first[0].ok and first[0].computed == first[0].rows_in
    table = read_image_features(cfg.out_root(), "ego4d", "image_test")
    clips = read_clips(str(student_ws / "clips"))
    assert sorted(table.column("clip_id").to_pylist()) == sorted(clips.column("clip_id").to_pylist())
    assert set(table.column("num_pool").to_pylist()) == {11}  # 9 uniform (every N in 1..4) + first + last

    # the stored numbers are f_I's on the decoded JPEGs (same weights: "none" is seeded below)
    row = clips.slice(0, 1).to_pylist()[0]
    images, times, has_fl = decode_pool(row, None)
    assert has_fl and images.shape == (11, 32, 32, 3)
    cached = table.filter(table.column("clip_id").to_numpy(zero_copy_only=False) == row["clip_id"])
    feats = np.asarray(cached.column("frame_features")[0].as_py(), np.float32).reshape(11, 512)
    assert np.all(np.isfinite(feats)) and feats.std() > 0
    assert cached.column("frame_time_sec")[0].as_py() == times

    again = run_image_cache(cfg)
    assert again[0].ok and again[0].computed == 0  # nothing recomputed


def test_to_input_normalises_like_imagenet():
    x = to_input(np.full((2, 4, 4, 3), 255, np.uint8))
    assert x.shape == (2, 3, 4, 4)
    assert torch.allclose(x[0, 0, 0, 0], torch.tensor((1 - 0.485) / 0.229), atol=1e-4)


def test_joined_inputs(student_ws):
    from studenthelpers import job_values

    from egodistill.methods.egodistill.config import DistillJobConfig
    from egodistill.student.driver import prepare

    cfg = DistillJobConfig(**job_values(student_ws, data={"num_frames": 2}))
    prep = prepare(cfg, needs_teacher=True, evaluates=True)
    tr = next(iter(prep.datasets["train"].iter_batches(batch_size=None, batch_format="numpy")))
    classes = prep.classes
    # the pool: the uniform frames of every N in 1..4 (9) plus the window's first and last frame
    assert tr["imu"].shape[1:] == (422, 6) and tr["pool"].shape[1:] == (11, 512) and tr["select"].shape[1] == 2
    assert tr["teacher_logits"].shape[1] == len(classes) and "teacher_feature" in tr
    assert prep.train.boundary == [0, 10]
    assert prep.student.num_classes == len(classes)
    assert prep.eval is not None and prep.eval.directory.endswith("clips_dense")
    ev = prep.datasets["val"].take_all()
    assert ev and {"segment", "label", "pool", "imu", "select"} <= set(ev[0])
    assert len(prep.eval.summary["segments"]) >= 1 and all("#d" not in s for s in prep.eval.summary["segments"])
    assert set(tr) == {"label", "imu", "pool", "select", "teacher_feature", "teacher_logits"}
