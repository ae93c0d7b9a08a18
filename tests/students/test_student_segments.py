"""Per-segment evaluation: softmax averaged over dense clips, per-class accuracy and gain, dense manifest."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from egodistill.evaluation.report import efficiency_rows, markdown_table, write_report
from egodistill.evaluation.segments import dense_manifest, per_class_accuracy, per_class_gain, segment_results


def test_segment_prediction_averages_the_softmax_of_its_dense_clips():
    ids = ["a#d0", "a#d1", "a#d2", "b"]
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]])
    res = segment_results(ids, probs, np.array([1, 1, 1, 0]))
    assert res.segment_id == ["a", "b"]
    # a: mean (0.467, 0.533) -> 1 although its first clip says 0; b -> 1 (wrong)
    assert res.pred.tolist() == [1, 1]
    assert res.num_clips.tolist() == [3, 1]
    assert res.top1 == 0.5 and res.clip_top1 == 0.5
    assert res.confidence[0] == pytest.approx((0.1 + 0.8 + 0.7) / 3)


def test_dense_clips_of_one_segment_must_share_a_label():
    with pytest.raises(ValueError, match="different labels"):
        segment_results(["a#d0", "a#d1"], np.eye(2), np.array([0, 1]))


def test_per_class_accuracy_and_gain():
    acc, n = per_class_accuracy(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0]), 4)
    assert acc[:3].tolist() == [0.5, 1.0, 0.0] and np.isnan(acc[3]) and n.tolist() == [2, 1, 1, 0]
    ids = ["s0", "s1", "s2", "s3"]
    labels = np.array([0, 0, 1, 1])
    ours = segment_results(ids, np.eye(2)[[0, 0, 1, 0]], labels)
    base = segment_results(ids, np.eye(2)[[1, 0, 1, 0]], labels)
    gain = per_class_gain(ours, base, ["cut", "open"]).to_pylist()
    assert [(g["verb"], g["gain"]) for g in gain] == [("cut", 0.5), ("open", 0.0)]


def test_dense_manifest_expands_eval_rows_with_dense_windows():
    rows = pa.table({"clip_id": ["t", "v"], "split": ["train", "val"], "start_sec": [0.0, 10.0],
                     "end_sec": [2.0, 15.0], "window_start_sec": [0.0, 11.5], "window_end_sec": [2.0, 13.5],
                     "video_duration_sec": [60.0, 60.0], "label": [0, 1]})  # fmt: skip
    dense = dense_manifest(rows)
    ids = dense.column("clip_id").to_pylist()
    assert ids[0] == "v#d0" and all(i.startswith("v#d") for i in ids) and len(ids) >= 3
    assert dense.column("window_start_sec")[0].as_py() == 10.0
    assert dense.column("window_end_sec")[-1].as_py() == 15.0
    assert dense.schema == rows.schema


def test_report_files(tmp_path):
    rows = [{"model": "EgoDistill", "segment top-1": 0.5}, {"model": "VisOnly", "segment top-1": 0.25}]
    assert "| EgoDistill" in markdown_table(rows)
    eff = efficiency_rows([("student", {"gmacs": 1.9, "params": 2e7, "cpu_latency_sec": 0.01})])
    assert (
        eff[0]["params (M)"] == 20.0
        and eff[0]["cpu_latency_ms_per_clip"] == 10.0
        and eff[0]["latency_batch"] == 1
    )
    files = write_report(tmp_path, results=rows, efficiency=eff, per_class=None,
                         points=[{"label": "a", "gmacs": 1.9, "top1": 0.5}], title="t")  # fmt: skip
    assert files["plot"].stat().st_size > 1000
    assert (tmp_path / "results.csv").read_text().startswith("model,segment top-1")
