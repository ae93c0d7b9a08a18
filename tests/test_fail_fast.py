"""Checks that could fail in a second do, before Ray starts: one line naming the file or key and the fix.

``egodistill.runtime.ensure_ray`` is replaced by a function that fails the test, so each case proves
its error comes before Ray (the session may have a Ray fixture running, so ``ray.is_initialized``
would not tell).
"""

from __future__ import annotations

import socket

import pytest

from egodistill import runtime
from egodistill.cli import main


@pytest.fixture
def no_ray(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("Ray was started before the inputs were checked")

    monkeypatch.setattr(runtime, "ensure_ray", refuse)


def _fast_one_line(argv, capsys, rc_expected: int = 2) -> str:
    """One line and the exit code; "fast" is proven by ``no_ray`` (no wall-clock bound: CI is shared)."""
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == rc_expected and len(err) == 1, (rc, err)
    return err[0]


def test_bad_teacher_dir_lists_the_trained_teachers(no_ray, tmp_path, capsys):
    (tmp_path / "clips").mkdir()
    good = tmp_path / "checkpoints" / "teachers" / "ego4d" / "tiny3d"
    good.mkdir(parents=True)
    (good / "teacher.yaml").write_text("name: tiny3d\n")
    (good / "teacher.pt").write_bytes(b"")
    bad = good.parent / "tiny3dd"
    argv = [
        "features",
        "--clips",
        str(tmp_path / "clips"),
        "--teacher-dir",
        str(bad),
        "--workspace",
        str(tmp_path),
    ]
    line = _fast_one_line(argv, capsys)
    assert (
        str(bad) in line
        and "not a trained teacher" in line
        and str(good) in line
        and "egodistill teacher" in line
    )


def test_features_without_clips_names_the_ingest_command(no_ray, tmp_path, capsys):
    argv = [
        "features",
        "--clips",
        str(tmp_path / "nope"),
        "--teacher-dir",
        str(tmp_path),
        "--workspace",
        str(tmp_path),
    ]
    line = _fast_one_line(argv, capsys)
    assert str(tmp_path / "nope") in line and "egodistill ingest" in line


def test_teacher_without_its_manifest_names_the_index_command(no_ray, tmp_path, capsys):
    line = _fast_one_line(["teacher", "--preset", "smoke", "--manifest", str(tmp_path / "m.parquet")], capsys)
    assert str(tmp_path / "m.parquet") in line and "egodistill index" in line


def test_unknown_teacher_name_lists_the_choices(no_ray, tmp_path, capsys):
    argv = ["teacher", "--preset", "smoke", "--clips", str(tmp_path), "--teacher", "resnet3d"]
    line = _fast_one_line(argv, capsys)
    assert "teacher.name" in line and "'resnet3d'" in line and "tiny3d" in line and "r2plus1d_18" in line


def test_set_typo_says_did_you_mean_and_names_the_source(no_ray, tmp_path, capsys):
    argv = ["teacher", "--preset", "smoke", "--clips", str(tmp_path), "--set", "optim.epoch=3"]
    line = _fast_one_line(argv, capsys)
    assert "did you mean 'optim.epochs'" in line and "--set optim.epoch=3" in line and "preset" not in line


@pytest.fixture
def student_ws(tmp_path):
    """A workspace with ingested clips (one file is enough to count) but no teacher features."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = tmp_path / "clips" / "ego4d" / "split=train" / "v0-000000000000.parquet"
    part.parent.mkdir(parents=True)
    pq.write_table(pa.table({"dataset": ["ego4d"], "clip_id": ["c0"]}), part)
    return tmp_path


def test_distilling_experiment_before_teacher_features_exist(no_ray, student_ws, capsys):
    argv = ["experiment", "--workspace", str(student_ws), "--dataset", "ego4d", "--preset", "smoke"]
    line = _fast_one_line(argv, capsys)
    assert "no teacher features under" in line and "egodistill features" in line


def test_experiment_with_an_unknown_teacher_model_lists_the_available(no_ray, student_ws, capsys):
    (student_ws / "features" / "ego4d" / "tiny3d").mkdir(parents=True)
    argv = ["experiment", "--workspace", str(student_ws), "--dataset", "ego4d", "--preset", "smoke",
            "--teacher-model", "tiny"]  # fmt: skip
    line = _fast_one_line(argv, capsys)
    assert "'tiny'" in line and "available: tiny3d" in line


def test_sweep_before_teacher_features_exist(no_ray, student_ws, capsys):
    argv = ["sweep", "--workspace", str(student_ws), "--dataset", "ego4d", "--preset", "test"]
    line = _fast_one_line(argv, capsys)
    assert "no teacher features under" in line and "egodistill features" in line


def test_student_stage_before_its_inputs_names_student_inputs(no_ray, student_ws, capsys):
    argv = ["distill", "--workspace", str(student_ws), "--dataset", "ego4d", "--preset", "smoke",
            "--image-weights", "none"]  # fmt: skip
    line = _fast_one_line(argv, capsys)
    assert "egodistill student-inputs" in line


def test_student_inputs_without_clips_names_ingest(no_ray, tmp_path, capsys):
    argv = ["student-inputs", "--workspace", str(tmp_path), "--dataset", "ego4d", "--image-weights", "none"]
    line = _fast_one_line(argv, capsys)
    assert "no ego4d clips under" in line and "egodistill ingest" in line


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_address_is_one_line_naming_it_not_a_stage(no_ray, tmp_path, capsys, monkeypatch):
    import egodistill.launch.submit as submit

    monkeypatch.setattr(submit, "submit_job", lambda *a, **k: pytest.fail("a stage was submitted"))
    address = f"http://127.0.0.1:{_closed_port()}"
    line = _fast_one_line(["demo", "--address", address, "--out", str(tmp_path / "demo")], capsys)
    assert address in line and "synth" not in line


def test_unreachable_ray_address_env_fails_before_ray_init(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    with pytest.raises(runtime.RayUnreachableError, match="RAY_ADDRESS=127.0.0.1"):
        runtime.require_reachable(runtime.os.environ["RAY_ADDRESS"], "RAY_ADDRESS")
