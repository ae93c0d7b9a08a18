"""The predict job end to end on tiny videos: windows predicted or quarantined, never dropped."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from inferhelpers import truncate, write_imu_csv

from egodistill.inference import store
from egodistill.inference.config import PredictConfig
from egodistill.inference.imu_windows import ImuRequiredError
from egodistill.inference.pipeline import run_predict
from egodistill.tables import validate
from videofakes import write_video

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    out = {}
    for name, seconds in (("good", 9.0), ("cut", 9.0), ("short", 1.5)):
        write_video(d / f"{name}.mp4", seconds=seconds, fps=30, gop=30)
        out[name] = (d / f"{name}.mp4", write_imu_csv(d / f"{name}.csv", seconds))
    truncate(out["cut"][0], 0.5)
    return out


def _cfg(student, media, out, names=("good", "cut", "short"), **kw) -> PredictConfig:
    values = {
        "student": str(student),
        "videos": [str(media[n][0]) for n in names],
        "imus": [str(media[n][1]) for n in names],
        "out": str(out),
        "frames": {"windows_per_batch": 2},
        "compute": {"batch_size": 4},
        **kw,
    }
    return PredictConfig.model_validate(values)


def test_predict_corrupt_part_way_and_short_video(ray_session, student_dir, media, tmp_path):
    out = tmp_path / "pred"
    summary = run_predict(_cfg(student_dir, media, out))
    assert summary.ok, summary.lines()
    assert summary.rows_in == summary.rows_predicted + summary.rows_quarantined
    good = pq.read_table(store.predictions_file(out, "good"))
    validate(good, "predictions")
    assert good.num_rows == 5  # 4 full windows of 2.13 s + one anchored at the end of 9 s
    assert good.column("window_index").to_pylist() == [0, 1, 2, 3, 4]
    probs = np.array(good.column("probs").to_pylist())
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert len(good.column("feature")[0]) == 24
    assert all(c > 0.9 for c in good.column("imu_coverage").to_pylist())

    cut = pq.read_table(store.predictions_file(out, "cut"))
    cut_q = pq.read_table(store.quarantine_file(out, "cut"))
    assert cut.num_rows >= 1 and cut_q.num_rows >= 1  # readable windows predicted, the rest quarantined
    assert cut.num_rows + cut_q.num_rows == 5
    assert set(cut_q.column("reason").to_pylist()) <= {"video_truncated", "decode_error"}
    assert max(cut.column("window_index").to_pylist()) < min(
        int(i.split("#w")[1]) for i in cut_q.column("item_id").to_pylist()
    )
    short_q = pq.read_table(store.quarantine_file(out, "short"))
    assert short_q.column("reason").to_pylist() == ["video_shorter_than_window"]
    assert pq.read_table(store.predictions_file(out, "short")).num_rows == 0
    assert summary.rows_in == 5 + 5 + 1

    segments = pq.read_table(store.segments_file(out))
    validate(segments, "segments")
    seg_rows = [r for r in segments.to_pylist() if r["video_id"] == "good"]
    assert sum(r["num_windows"] for r in seg_rows) == 5
    assert seg_rows[0]["start_sec"] == 0.0 and seg_rows[-1]["end_sec"] == pytest.approx(9.0, abs=0.05)
    assert store.timeline_file(out, "good").stat().st_size > 1000

    # resumable per video: nothing left to do, files untouched
    mtime = store.predictions_file(out, "good").stat().st_mtime_ns
    again = run_predict(_cfg(student_dir, media, out))
    assert again.videos_skipped == 3 and again.windows_processed == 0 and again.ok
    assert store.predictions_file(out, "good").stat().st_mtime_ns == mtime
    # other settings into the same output are refused
    with pytest.raises(store.PredictOutputError, match="other settings"):
        run_predict(_cfg(student_dir, media, out, frames={"policy": "keyframe"}))


def test_predictions_match_the_model_run_by_hand(ray_session, student_dir, media, tmp_path):
    """The pipeline's probabilities are the student's on the same frames and IMU window."""
    import torch

    from egodistill.datasets.imu import ImuWindowConfig
    from egodistill.inference import imu_windows
    from egodistill.inference.frames import decode_frames
    from egodistill.inference.model_io import load_student
    from egodistill.inference.predictor import prepare_frames
    from egodistill.ingest.frames import FrameTransform

    out = tmp_path / "pred"
    assert run_predict(_cfg(student_dir, media, out, names=("good",), plots=False)).ok
    table = pq.read_table(store.predictions_file(out, "good"))
    model, _, _ = load_student(student_dir)
    video, imu = media["good"]
    cfg = ImuWindowConfig()
    for row in table.to_pylist()[:2]:
        fb = decode_frames("exact", str(video), row["frame_target_sec"], FrameTransform(32, 32))
        frames = np.stack([fb.images[t] for t in row["frame_target_sec"]])[None]
        stream = imu_windows.load_stream("good", [str(imu)], None, cfg)
        win = imu_windows.windows(stream, [row["window_start_sec"]], cfg)
        with torch.inference_mode():
            logits = model(frames=prepare_frames(frames), imu=torch.from_numpy(win.samples)).logits
        expected = torch.softmax(logits, 1)[0].numpy()
        assert np.allclose(row["probs"], expected, atol=1e-5)


def test_missing_imu_stops_an_imu_student_naming_the_file(ray_session, student_dir, media, tmp_path):
    cfg = _cfg(student_dir, media, tmp_path / "pred", names=("good",))
    cfg = cfg.model_copy(update={"imus": [str(tmp_path / "nowhere.csv")]})
    with pytest.raises(ImuRequiredError, match=r"nowhere\.csv.*IMU file not found.*needs IMU"):
        run_predict(cfg)
    assert not (tmp_path / "pred" / "predictions").exists()  # stopped before any work
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ImuRequiredError, match=r"broken\.csv.*imu_bad_header"):
        run_predict(cfg.model_copy(update={"imus": [str(broken)]}))
    no_imu = cfg.model_copy(update={"imus": []})
    with pytest.raises(ImuRequiredError, match="no IMU file given"):
        run_predict(no_imu)


def test_visonly_student_needs_no_imu(ray_session, visonly_dir, media, tmp_path):
    cfg = _cfg(visonly_dir, media, tmp_path / "pred", names=("good",), plots=False)
    summary = run_predict(cfg.model_copy(update={"imus": []}))
    assert summary.ok and summary.rows_predicted == 5
    t = pq.read_table(store.predictions_file(tmp_path / "pred", "good"))
    assert t.column("imu_coverage").null_count == 5 and not any(t.column("imu_used").to_pylist())


def test_predict_over_a_dataset_root_scores_against_the_annotations(
    ray_session, visonly_dir, ego4d_dataset, tmp_path
):
    root, _, _ = ego4d_dataset
    cfg = PredictConfig(student=str(visonly_dir), dataset="ego4d", root=str(root), out=str(tmp_path / "p"))
    summary = run_predict(cfg)
    assert summary.ok and summary.videos == 2
    table = pq.read_table(
        store.predictions_file(
            tmp_path / "p", sorted(p.stem for p in (tmp_path / "p" / "predictions").glob("*"))[0]
        )
    )
    gt = [g for g in table.column("gt_label").to_pylist() if g is not None]
    assert gt  # annotated windows carry the planted verb
    acc = summary.accuracy  # over both videos; verbs outside the model's 3 classes are counted apart
    assert acc is not None and acc.labelled + acc.unknown_verb >= len(gt)
    assert any("per-window accuracy" in line for line in summary.lines())
    assert len(list((tmp_path / "p" / "timelines").glob("*.png"))) == 2


def test_cli_missing_imu_is_one_line_and_exit_1(ray_session, student_dir, media, tmp_path, capsys):
    from egodistill.cli import main

    video = str(media["good"][0])
    code = main(["predict", "--student", str(student_dir), "--video", video, "--imu", str(tmp_path / "gone.csv"),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "gone.csv" in err[0] and "needs IMU" in err[0]
