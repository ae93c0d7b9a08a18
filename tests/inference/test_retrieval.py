"""Retrieval: cosine neighbours, queries, precision@k and the PNG strip."""

from __future__ import annotations

import numpy as np
import pytest

from egodistill.inference.retrieval import (
    FeatureSet,
    RetrievalError,
    neighbours,
    precision_at_k,
    resolve_query,
    strip_png,
)


def _set(features, labels, videos) -> FeatureSet:
    feats = np.asarray(features, np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    n = len(labels)
    return FeatureSet(
        name="t", ids=[f"{v}#w{i}" for i, v in enumerate(videos)], video_ids=list(videos), labels=list(labels),
        spans=np.array([[2.0 * i, 2.0 * i + 2.0] for i in range(n)]), features=feats,
        image=lambda i: np.full((8, 8, 3), 20 * i, np.uint8), source="test",
    )  # fmt: skip


def test_neighbours_rank_by_cosine_and_skip_the_query_video():
    fs = _set([[1, 0], [0.9, 0.1], [1, 0.05], [0, 1]], ["a", "a", "a", "b"], ["v1", "v1", "v2", "v2"])
    idx, sims = neighbours(fs, 0, 2)
    assert list(idx) == [2, 3]  # item 1 (same video) excluded, then by cosine
    assert sims[0] > sims[1] and sims[0] == pytest.approx(1 / np.sqrt(1 + 0.05**2), rel=1e-5)
    idx, _ = neighbours(fs, 0, 2, same_video=True)
    assert list(idx) == [2, 1]


def test_precision_at_k_and_chance():
    # two verbs; features separate them perfectly across 4 videos
    feats = [[1, 0.1 * i] for i in range(4)] + [[0.1 * i, 1] for i in range(4)]
    fs = _set(feats, ["a"] * 4 + ["b"] * 4, ["v0", "v1", "v2", "v3"] * 2)
    p = precision_at_k(fs, 2)
    assert p.precision == pytest.approx(1.0) and p.queries == 8
    assert p.chance == pytest.approx(3 / 6)  # 3 same-verb items among the 6 of other videos
    shuffled = _set(feats, ["a", "b"] * 4, ["v0", "v1", "v2", "v3"] * 2)
    assert precision_at_k(shuffled, 2).precision < 1.0


def test_query_by_id_and_video_at_time(tmp_path):
    fs = _set([[1, 0], [0, 1], [1, 1]], ["a", "b", None], ["v1", "v1", "v2"])
    assert resolve_query(fs, "v1#w1") == 1
    assert resolve_query(fs, "v1@2.5") == 1  # span 2-4 s
    assert resolve_query(fs, "v2@100") == 2  # nearest
    with pytest.raises(RetrievalError, match="no clips of video"):
        resolve_query(fs, "v9@1")
    with pytest.raises(RetrievalError, match="neither"):
        resolve_query(fs, "nothing")
    idx, sims = neighbours(fs, 0, 2, same_video=True)
    assert strip_png(fs, 0, idx, sims, tmp_path / "s.png").stat().st_size > 500


@pytest.mark.ray
def test_retrieve_on_predictions(ray_session, student_dir, tmp_path):
    from inferhelpers import write_imu_csv

    from egodistill.inference.config import PredictConfig, RetrieveConfig
    from egodistill.inference.pipeline import run_predict
    from egodistill.inference.retrieval import from_predictions, run_retrieve
    from videofakes import write_video

    videos, imus = [], []
    for name in ("a", "b"):
        write_video(tmp_path / f"{name}.mp4", seconds=7.0, fps=30, gop=30)
        videos.append(str(tmp_path / f"{name}.mp4"))
        imus.append(str(write_imu_csv(tmp_path / f"{name}.csv", 7.0)))
    out = tmp_path / "pred"
    cfg = PredictConfig(student=str(student_dir), videos=videos, imus=imus, out=str(out), plots=False)
    assert run_predict(cfg).ok
    fs = from_predictions(out)
    assert len(fs) == 8 and np.allclose(np.linalg.norm(fs.features, axis=1), 1.0, atol=1e-5)
    lines = run_retrieve(RetrieveConfig(predictions=[str(out)], query="a@3", k=3))
    assert any(line.strip().startswith("1. cos") for line in lines)
    assert all("(b " in line for line in lines if ". cos" in line)  # other video only
    assert (out / "retrieval").is_dir() and list((out / "retrieval").glob("*.png"))
