"""The scale model's arithmetic and input checks, with hand-made costs (no measurement, no Ray)."""

from __future__ import annotations

import dataclasses

import pytest

from egodistill.capacity.model import (
    DEFAULT_GPU_SPEEDUP_STUDENT,
    DEFAULT_GPU_SPEEDUP_TEACHER,
    ClipCosts,
    ClusterSpec,
    CorpusSpec,
    project,
)

COSTS = ClipCosts(
    ingest_sec=0.010,
    ingest_decode_sec=0.008,
    teacher_decode_sec=0.04,
    teacher_forward_sec=4.0,
    image_decode_sec=0.004,
    image_forward_sec=0.5,
    student_step_sec=0.01,
    clip_row_bytes=50_000.0,
    feature_row_bytes=2_800.0,
    source_pixels=1920 * 1080,
)
# decode_scale=1: the costs were "measured" at the source resolution, so nothing is rescaled
CORPUS = CorpusSpec(clips=1_000_000, train_fraction=0.5, stage2_epochs=10, batch_size=64, decode_scale=1.0)


def stage(p, prefix: str):
    return next(s for s in p.stages if s.stage.startswith(prefix))


def test_doubling_cores_halves_cpu_stages():
    one = project(COSTS, CORPUS, ClusterSpec("a", cpu_nodes=1, cores_per_node=4))
    two = project(COSTS, CORPUS, ClusterSpec("b", cpu_nodes=2, cores_per_node=4))
    for name in ("ingest", "teacher features", "image features", "stage-2"):
        assert stage(two, name).wall_sec == pytest.approx(stage(one, name).wall_sec / 2)
        assert stage(two, name).core_sec == pytest.approx(stage(one, name).core_sec)


def test_cpu_only_formulae():
    p = project(COSTS, CORPUS, ClusterSpec("c", cpu_nodes=1, cores_per_node=4))
    n = 1_000_000
    assert p.clips == n and p.train_clips == n // 2 and p.epochs == 10
    assert stage(p, "ingest").wall_sec == pytest.approx(n * 0.010 / 4)
    assert stage(p, "teacher features").wall_sec == pytest.approx(n * (0.04 + 4.0) / 4)
    assert stage(p, "image features").wall_sec == pytest.approx(n * (0.004 + 0.5) / 4)
    assert stage(p, "stage-2").wall_sec == pytest.approx(n / 2 * 10 * 0.01 / 4)
    assert p.total_wall_sec == pytest.approx(sum(s.wall_sec for s in p.stages))
    assert all(s.gpu_sec == 0 for s in p.stages)


def test_storage_is_clips_times_bytes_per_row():
    p = project(COSTS, CORPUS, ClusterSpec("c"))
    assert p.storage_bytes["clips Parquet"] == pytest.approx(1_000_000 * 50_000)
    assert p.storage_bytes["teacher features Parquet"] == pytest.approx(1_000_000 * 2_800)


def test_clip_count_from_hours_and_stride():
    corpus = CorpusSpec(hours=10, annotated_fraction=0.5, clip_stride_sec=2.0)
    assert corpus.num_clips == 10 * 3600 // 2 // 2
    default = CorpusSpec(hours=1)
    assert default.stride_sec == pytest.approx(422 / 198 / 2)  # dense_clips' default: half the window
    assert default.num_clips == int(3600 / (422 / 198 / 2))
    assert default.epochs == 150 and default.global_batch == 64  # the paper preset on Ego4D
    assert default.train_share == pytest.approx(0.7)


def test_decode_scales_with_pixels_only_for_video_decoding():
    small = dataclasses.replace(COSTS, source_pixels=1920 * 1080 // 4)
    corpus = dataclasses.replace(CORPUS, decode_scale=None)
    cluster = ClusterSpec("c", cores_per_node=1)
    p = project(small, corpus, cluster)
    n = 1_000_000
    assert stage(p, "ingest").wall_sec == pytest.approx(n * (0.002 + 4 * 0.008))
    assert stage(p, "teacher features").wall_sec == pytest.approx(n * (4 * 0.04 + 4.0))
    assert stage(p, "image features").wall_sec == pytest.approx(
        n * 0.504
    )  # JPEGs of the stored 224 px frames
    assert any("pixel" in a for a in p.assumptions)


def test_gpu_cluster_uses_assumed_speedup_and_says_so():
    cluster = ClusterSpec("g", cpu_nodes=0, gpu_nodes=2, gpus_per_node=1, gpu_node_cores=8)
    p = project(COSTS, CORPUS, cluster)
    n = 1_000_000
    forward = n * 4.0 / DEFAULT_GPU_SPEEDUP_TEACHER / 2
    decode = n * 0.04 / 16
    assert stage(p, "teacher features").wall_sec == pytest.approx(max(forward, decode))
    assert stage(p, "teacher features").bound == ("gpu" if forward > decode else "cpu")
    assert stage(p, "stage-2").wall_sec == pytest.approx(n / 2 * 10 * 0.01 / DEFAULT_GPU_SPEEDUP_STUDENT / 2)
    assert sum("assumed GPU speed-up" in a for a in p.assumptions) == 3  # teacher, f_I, student


def test_measured_gpu_times_replace_the_speedup():
    costs = dataclasses.replace(
        COSTS, teacher_forward_gpu_sec=0.01, image_forward_gpu_sec=0.001, student_step_gpu_sec=0.0002
    )
    cluster = ClusterSpec("g", cpu_nodes=0, gpu_nodes=1, gpu_node_cores=1000, gpu_speedup_teacher=1.0)
    p = project(costs, CORPUS, cluster)
    assert stage(p, "teacher features").wall_sec == pytest.approx(1_000_000 * 0.01)
    assert stage(p, "stage-2").wall_sec == pytest.approx(500_000 * 10 * 0.0002)
    assert not any("speed-up" in a for a in p.assumptions)


def test_stage2_workers_capped_by_batch():
    cluster = ClusterSpec("big", cpu_nodes=10, cores_per_node=64, min_worker_batch=8)
    p = project(COSTS, CORPUS, cluster)
    s = stage(p, "stage-2")
    assert s.wall_sec == pytest.approx(500_000 * 10 * 0.01 / (64 // 8))
    assert s.bound == "workers"
    assert any("stage 2 uses 8 of 640 cores" in a for a in p.assumptions)


def test_io_bound_when_bandwidth_is_given():
    corpus = dataclasses.replace(CORPUS, hours=100.0, video_mbps=8.0)
    cluster = ClusterSpec("io", cpu_nodes=100, cores_per_node=100, storage_gbps=0.001)
    p = project(COSTS, corpus, cluster)
    io = 100 * 3600 * 8e6 / 8 / 1e6
    assert stage(p, "ingest").wall_sec == pytest.approx(io)
    assert stage(p, "ingest").bound == "io"


def test_costs_json_round_trip():
    costs = dataclasses.replace(COSTS, context={"machine": "test"})
    assert ClipCosts.from_json(costs.to_json()) == costs
    with pytest.raises(ValueError, match="unknown ClipCosts fields"):
        ClipCosts.from_json('{"ingest_sec": 1, "bogus": 2}')


@pytest.mark.parametrize("name", ["ingest_sec", "teacher_forward_sec", "student_step_sec", "clip_row_bytes"])
@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_costs_raise(name, bad):
    with pytest.raises(ValueError, match=f"ClipCosts.{name} must be a positive finite number"):
        dataclasses.replace(COSTS, **{name: bad})


def test_bad_gpu_cost_and_decode_part_raise():
    with pytest.raises(ValueError, match="teacher_forward_gpu_sec"):
        dataclasses.replace(COSTS, teacher_forward_gpu_sec=0.0)
    with pytest.raises(ValueError, match="cannot exceed"):
        dataclasses.replace(COSTS, ingest_decode_sec=1.0)


def test_bad_corpus_and_cluster_raise():
    with pytest.raises(ValueError, match="CorpusSpec.hours"):
        CorpusSpec(hours=0)
    with pytest.raises(ValueError, match="annotated_fraction"):
        CorpusSpec(annotated_fraction=1.5)
    with pytest.raises(ValueError, match="CorpusSpec.clips"):
        CorpusSpec(clips=0)
    with pytest.raises(ValueError, match="ClusterSpec.cores_per_node"):
        ClusterSpec("x", cores_per_node=0)
    with pytest.raises(ValueError, match="ClusterSpec.cpu_nodes"):
        ClusterSpec("x", cpu_nodes=-1)
    with pytest.raises(ValueError, match="gpu_speedup_teacher"):
        ClusterSpec("x", gpu_speedup_teacher=-2.0)
    with pytest.raises(ValueError, match="no CPU cores"):
        ClusterSpec("x", cpu_nodes=0, gpu_nodes=0)
    with pytest.raises(TypeError):
        project(COSTS, CORPUS, "cluster")  # type: ignore[arg-type]
