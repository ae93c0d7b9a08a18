"""`egodistill reproduce`: intervals and paired tests (unit), and the whole command on a tiny world (K = 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from egodistill.benchmark.reproduce import PRESETS, ReproduceConfig, analyse, comparisons
from egodistill.config import load_config
from egodistill.evaluation.intervals import bootstrap_interval, paired_test


def test_two_level_bootstrap_interval_covers_the_mean_and_shrinks_with_segments():
    rng = np.random.default_rng(0)
    small = bootstrap_interval(rng.random((3, 40)) < 0.7)
    large = bootstrap_interval(rng.random((3, 2000)) < 0.7)
    assert small.low <= small.mean <= small.high and large.low <= large.mean <= large.high
    assert (large.high - large.low) < (small.high - small.low)
    assert abs(large.mean - 0.7) < 0.03


def test_paired_test_resolves_a_real_gain_and_not_a_null_one():
    rng = np.random.default_rng(1)
    base = (rng.random((3, 300)) < 0.5).astype(float)
    better = np.maximum(base, rng.random((3, 300)) < 0.2)  # fixes ~10 % of the segments, breaks none
    gain = paired_test(better, base)
    assert gain.verdict == "higher" and gain.p_value < 0.01 and gain.diff.mean > 0
    same = paired_test(base, base)
    assert same.verdict == "not resolved" and same.p_value == 1.0
    teacher = paired_test(better[:1], base)  # a reference trained once pairs with every seed
    assert teacher.diff.seeds == 1


def test_analyse_pairs_models_by_seed_and_segment_and_gives_per_class_gains():
    segs = [f"s{i}" for i in range(60)]
    labels_of = {s: i % 3 for i, s in enumerate(segs)}
    rng = np.random.default_rng(2)
    per_seed = [{lab: {s: int(rng.random() < p) for s in segs}
                 for lab, p in (("VisOnly-Distill", 0.4), ("EgoDistill", 0.8), ("EgoDistill w/o KD", 0.7))}
                for _ in range(2)]  # fmt: skip
    teacher = {s: 1 for s in segs}
    out = analyse(
        per_seed, teacher, {"EgoDistill": 0.15, "Teacher": 3.5}, ["take", "cut", "walk"], labels_of, 300
    )
    rows = {r["model"]: r for r in out["results"]}
    assert (
        rows["Teacher"]["mean"] == 1.0
        and rows["EgoDistill"]["segments"] == 60
        and rows["EgoDistill"]["seeds"] == 2
    )
    comp = {(c["model"], c["reference"]): c for c in out["comparisons"]}
    assert comp[("EgoDistill", "VisOnly-Distill")]["model vs reference"] == "higher"
    assert ("EgoDistill w/o KD", "EgoDistill") in comp and ("Teacher", "EgoDistill") in comp
    assert {r["class"] for r in out["per_class"]} == {"take", "cut", "walk"}
    assert {r["group"] for r in out["per_class"]} == {"motion-pair", "appearance-only", "motion-defined"}


def test_difference_of_gains_resolves_a_group_effect_and_not_a_null_one():
    from egodistill.evaluation.intervals import difference_of_gains

    rng = np.random.default_rng(3)
    big = (rng.random((3, 80)) < 0.35).astype(float)  # gain ~0.35 on group a
    none = (rng.random((3, 80)) < 0.02).astype(float) - (rng.random((3, 80)) < 0.02)
    t = difference_of_gains(big, none, 500)
    assert t.verdict == "higher" and t.diff.low <= t.diff.mean <= t.diff.high and t.diff.segments == 160
    null = difference_of_gains(none, none[:, ::-1].copy(), 500)
    assert null.verdict == "not resolved"


def test_analyse_tests_the_imu_gain_on_motion_against_appearance_verbs():
    segs = [f"s{i}" for i in range(90)]
    labels_of = {s: i % 3 for i, s in enumerate(segs)}  # take (motion-pair), cut (appearance), walk (motion)
    rng = np.random.default_rng(4)

    def correct(p_motion: float, p_appearance: float) -> dict[str, int]:
        return {s: int(rng.random() < (p_appearance if labels_of[s] == 1 else p_motion)) for s in segs}

    per_seed = [{"VisOnly-Distill": correct(0.3, 0.6), "EgoDistill": correct(0.9, 0.6)} for _ in range(2)]
    out = analyse(per_seed, {}, {}, ["take", "cut", "walk"], labels_of, 300)
    fig4 = {c["model"]: c for c in out["comparisons"] if c["comparison"] == "Figure 4"}
    assert fig4["IMU gain on motion verbs"]["model vs reference"] == "higher"
    assert fig4["EgoDistill on motion verbs"]["model vs reference"] == "higher"
    assert fig4["EgoDistill on appearance-only verbs"]["model vs reference"] == "not resolved"


def test_analyse_without_teacher_segments_leaves_the_teacher_comparisons_out():
    segs = [f"s{i}" for i in range(20)]
    per_seed = [{"VisOnly-Distill": {s: 0 for s in segs}, "EgoDistill": {s: 1 for s in segs}}]
    out = analyse(per_seed, {"other": 1}, {}, ["take"], {s: 0 for s in segs}, 200)
    assert {r["model"] for r in out["results"]} == {"VisOnly-Distill", "EgoDistill"}
    assert all("Teacher" not in (c["model"], c["reference"]) for c in out["comparisons"])


def test_student_segments_are_named_by_their_segment_id():
    """Workers key segments by index in the evaluation view; the driver names them, so they pair with the
    teacher's ``eval_segments.parquet`` (keyed by clip id)."""
    from types import SimpleNamespace

    from egodistill.evaluation.segments import SegmentResults
    from egodistill.student.driver import named_segments

    seg = SegmentResults(["1", "0"], np.array([0, 1]), np.array([0, 0]), np.array([0.9, 0.8]), np.array([2, 1]),
                         1, 3, 2)  # fmt: skip
    view = SimpleNamespace(summary={"segments": ["clip-a", "clip-b"]})
    assert named_segments(seg, view).segment_id == ["clip-b", "clip-a"]
    assert named_segments(seg, None) is seg


def test_comparisons_name_their_reference():
    labs = ["VisOnly", "EgoDistill", "EgoDistill N=3", "VisOnly-Distill N=2", "EgoDistill center"]
    got = {(m, r) for _, m, r, _ in comparisons(labs)}
    assert got == {
        ("Teacher", "EgoDistill"),
        ("EgoDistill N=3", "EgoDistill"),
        ("EgoDistill center", "EgoDistill"),
    }


def test_a_finished_seed_is_reused_only_for_the_same_config_and_teacher(tmp_path):
    from egodistill.benchmark import reproduce as rp
    from egodistill.teacher.export import export_dir

    cfg = load_config(ReproduceConfig, base=PRESETS["smoke"], dotted={"world.out": str(tmp_path)})
    export = export_dir(tmp_path, "ego4d", "tiny3d")
    export.mkdir(parents=True)
    (export / "teacher.pt").write_bytes(b"v1")
    ecfg = rp._experiment_config(cfg, "ego4d", "tiny3d", 1)
    key = rp._seed_key(ecfg, tmp_path, "ego4d", "tiny3d")
    cache = tmp_path / "seed-1.json"
    cache.write_text(json.dumps({"key": key, "correct": {"EgoDistill": {"s0": 1}}}))
    assert rp._load_seed(cache, key)["correct"] == {"EgoDistill": {"s0": 1}}
    assert rp._seed_key(rp._experiment_config(cfg, "ego4d", "tiny3d", 2), tmp_path, "ego4d", "tiny3d") != key
    (export / "teacher.pt").write_bytes(b"retrained")
    assert rp._seed_key(ecfg, tmp_path, "ego4d", "tiny3d") != key  # a new teacher trains the seed again
    cache.write_text("{not json")
    assert rp._load_seed(cache, key) is None and rp._load_seed(tmp_path / "absent.json", key) is None


@pytest.mark.slow  # minutes: the whole pipeline for two seeds (make test-slow)
def test_reproduce_on_a_tiny_world_with_two_seeds_writes_tables_with_intervals(
    ray_session, tmp_path, monkeypatch
):
    from egodistill.benchmark.reproduce import run_reproduce

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = load_config(ReproduceConfig, base=PRESETS["smoke"], dotted={
        "world.out": str(tmp_path / "bench"), "seeds": 2, "variants": ["visonly_distill", "egodistill"],
        "ablations": [], "replicates": 200})  # fmt: skip
    out = run_reproduce(cfg)["ego4d"]
    rows = {r["model"]: r for r in out["results"]}
    assert {"VisOnly-Distill", "EgoDistill", "Teacher"} <= set(rows)  # the teacher pairs on segment ids
    for r in rows.values():
        assert r["low"] <= r["mean"] <= r["high"] and r["segments"] > 0
        assert r["seeds"] == (1 if r["model"] == "Teacher" else 2)
    pairs = {(c["model"], c["reference"]) for c in out["comparisons"]}
    assert {("Teacher", "EgoDistill"), ("EgoDistill", "VisOnly-Distill")} <= pairs
    report = tmp_path / "bench" / "reports" / "reproduce" / "ego4d"
    text = (report / "results.md").read_text()
    assert "[95% CI]" in text and "[" in text.split("\n")[2]
    assert (report / "comparisons.csv").is_file() and (tmp_path / "bench" / "mlflow.db").is_file()

    # run again: every seed is read back from reports/.../seeds/, none is trained, the tables are the same
    from egodistill.benchmark import reproduce as rp

    def refuse(ecfg):
        raise AssertionError(f"seed {ecfg.seed} was trained again")

    monkeypatch.setattr(rp, "_run_seed", refuse)
    again = run_reproduce(cfg)["ego4d"]
    means = [(r["model"], r["mean"], r["segments"]) for r in out["results"]]
    assert [(r["model"], r["mean"], r["segments"]) for r in again["results"]] == means
    assert len(list((report / "seeds").glob("seed-*.json"))) == 2
