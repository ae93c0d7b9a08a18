"""The experiment's tables say what they hold: column names, segments and intervals, warnings, folders."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from egodistill.evaluation.report import efficiency_rows, write_report
from egodistill.methods.egodistill.experiment import (
    ExperimentConfig,
    experiment_runs,
    report_warnings,
    result_row,
)
from egodistill.student.config import StudentJobBase
from egodistill.student.driver import student_dir


def _outcome(correct: list[bool]):
    label = np.zeros(len(correct), np.int64)
    segments = SimpleNamespace(pred=np.where(correct, 0, 1), label=label, clip_top1=0.5,
                               top1=float(np.mean(correct)))  # fmt: skip
    return SimpleNamespace(segments=segments, segment_top1=segments.top1, efficiency={"gmacs": 1.9},
                           metrics={"epochs_done": 3, "train_loss": 0.7})  # fmt: skip


def test_result_rows_name_their_columns_and_carry_segments_and_an_interval():
    spec = experiment_runs(ExperimentConfig(variants=["egodistill"]))[0]
    row = result_row(spec, _outcome([True] * 30 + [False] * 10), 12.0)
    assert {"num_frames", "frame_strategy", "imu_pretrained", "eval_segments", "segment_top1",
            "segment_top1_ci_low", "segment_top1_ci_high"} <= set(row)  # fmt: skip
    assert "pretrained" not in row and "frames" not in row and "N" not in row
    assert (
        row["imu_pretrained"] is True
        and row["frame_strategy"] == spec.strategy
        and row["eval_segments"] == 40
    )
    assert row["segment_top1_ci_low"] < row["segment_top1"] == 0.75 < row["segment_top1_ci_high"]


def test_the_report_has_one_comparison_chart_and_repeats_the_random_weights_warning(tmp_path):
    cfg = ExperimentConfig(student={"image_weights": "none"})
    warnings = report_warnings(cfg)
    assert warnings and "RANDOM" in warnings[0]
    runs = experiment_runs(ExperimentConfig(variants=["visonly", "egodistill"]))
    rows = [result_row(s, _outcome([True, False, True]), 1.0) for s in runs]
    eff = efficiency_rows(
        [("x", {"gmacs": 1.0, "params": 1e6, "cpu_latency_sec": 0.002, "latency_batch": 32})]
    )
    assert eff[0]["latency_batch"] == 32 and eff[0]["latency_threads"] == 1
    files = write_report(tmp_path, results=rows, efficiency=eff, per_class=None, points=[], title="t",
                         warnings=warnings)  # fmt: skip
    assert files["comparison"].stat().st_size > 0
    assert "RANDOM" in (tmp_path / "WARNINGS.txt").read_text()
    assert not report_warnings(ExperimentConfig(student={"image_weights": "torchvision"}))


def test_student_folders_are_the_run_names_with_the_stage_below():
    runs = {r.label: r for r in experiment_runs(ExperimentConfig())}
    folders = {}
    for label in ("VisOnly", "VisOnly-Distill"):
        job = StudentJobBase(workspace="/ws", name=runs[label].name)
        folders[label] = student_dir(job, "distill")
    assert folders["VisOnly"].parent.name == "visonly"
    assert folders["VisOnly-Distill"].parent.name == "visonly_distill"  # = the variant key
    assert all(r.name == r.variant for r in runs.values())
    assert all(p.name == "distill" for p in folders.values())
