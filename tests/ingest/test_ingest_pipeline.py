"""The Ray Data job: accounting, idempotent re-runs, grown manifests, broken videos, the CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ingestfakes import frame_index, manifest_table

from egodistill.cli import job_main
from egodistill.config import ConfigError
from egodistill.ingest import cli, store
from egodistill.ingest.config import IngestConfig
from egodistill.ingest.frames import decode_jpeg
from egodistill.ingest.pipeline import run_ingest
from egodistill.storage import atomic_write_table

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]
FRAMES = {"short_side": 48, "crop_size": 48}


def _config(manifest: Path, out: Path, **frames) -> IngestConfig:
    return IngestConfig(
        manifest=str(manifest), out=str(out), frames={**FRAMES, **frames}, resources={"progress_bars": False}
    )


def _write_manifest(path: Path, rows) -> Path:
    atomic_write_table(manifest_table(rows), str(path))
    return path


def _files(out: Path) -> dict[str, float]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def rows_by_clip(out: Path) -> dict[str, dict]:
    return {r["clip_id"]: r for r in store.read_clips(str(out)).to_pylist()}


@pytest.fixture(scope="module")
def first_run(ray_session, mixed_media, tmp_path_factory):
    root, rows, expected = mixed_media
    tmp = tmp_path_factory.mktemp("pipeline")
    manifest = _write_manifest(tmp / "manifest.parquet", rows)
    out = tmp / "clips"
    summary = run_ingest(_config(manifest, out))
    return manifest, out, summary, rows, expected


def test_every_row_is_written_or_quarantined_with_its_reason(first_run):
    _, out, summary, rows, expected = first_run
    assert summary.ok, summary.lines()
    assert summary.rows_in == len(rows) == summary.rows_written + summary.rows_quarantined
    q = store.read_quarantine(str(out)).to_pylist()
    reasons = {e["item_id"]: e["reason"] for e in q}
    written = rows_by_clip(out)
    assert not set(reasons) & set(written) and set(reasons) | set(written) == set(expected)
    assert {c: r for c, r in reasons.items() if expected[c] != "*"} == {
        c: r for c, r in expected.items() if r not in (None, "*")
    }
    assert all(e["stage"] == "ingest" and e["detail"] for e in q)


def test_rows_decode_to_the_frames_nearest_the_requested_times(first_run):
    _, out, _, _, _ = first_run
    for cid, row in rows_by_clip(out).items():
        if cid.startswith("corrupt"):
            continue  # damaged pixels, if decoded at all
        fps_grid = not cid.startswith("vfr")
        for target, actual, jpeg in zip(
            row["frame_target_sec"], row["frame_time_sec"], row["frames"], strict=True
        ):
            assert abs(actual - target) <= (1 / 60 + 1e-6 if fps_grid else 0.021)
            if fps_grid:
                assert frame_index(decode_jpeg(jpeg)) == round(actual * 30)
        assert decode_jpeg(row["first_frame"]).shape == (48, 48, 3)
        assert row["num_frames"] == 9 and len(row["imu"]) == 422 * 6  # every N in 1..4


def test_layout_is_partitioned_by_dataset_and_split(first_run):
    _, out, _, _, _ = first_run
    parts = {p.relative_to(out).parts[:2] for p in out.rglob("*.parquet")}
    assert ("ego4d", "split=train") in parts and ("ego4d", "split=val") in parts
    assert ("_quarantine", "ego4d") in parts
    assert store.read_clips(str(out), split="val").column("split").unique().to_pylist() == ["val"]
    meta = pq.read_schema(next((out / "ego4d" / "split=train").glob("*.parquet"))).metadata
    assert meta[store.FINGERPRINT_KEY] and meta[b"egodistill.schema"] == b"clips/v1"


def test_rerun_of_a_finished_job_writes_nothing(first_run):
    manifest, out, first, _, _ = first_run
    before = _files(out)
    again = run_ingest(_config(manifest, out))
    assert again.ok and again.videos_processed == 0 and again.files_written == 0
    assert (again.rows_written, again.rows_quarantined) == (first.rows_written, first.rows_quarantined)
    assert _files(out) == before


def test_grown_manifest_processes_only_new_clips_and_matches_a_fresh_run(ray_session, mixed_media, tmp_path):
    _, rows, _ = mixed_media
    good = [r for r in rows if r["video_id"] in ("h264", "vp9")]
    small = [r for r in good if not r["clip_id"].endswith("-2")]
    out = tmp_path / "grown"
    run_ingest(_config(_write_manifest(tmp_path / "small.parquet", small), out))
    grown = run_ingest(_config(_write_manifest(tmp_path / "full.parquet", good), out))
    assert grown.ok and grown.clips_processed == len(good) - len(small) == 2
    assert len(list((out / "ego4d").rglob("h264-*.parquet"))) == 3  # 2 splits + the new part
    fresh = tmp_path / "fresh"
    run_ingest(_config(tmp_path / "full.parquet", fresh))
    assert rows_by_clip(out) == rows_by_clip(fresh)


def test_other_frame_settings_refuse_to_mix_into_an_existing_output(first_run):
    manifest, out, _, _, _ = first_run
    with pytest.raises(store.IngestOutputError, match="fingerprint"):
        run_ingest(_config(manifest, out, count=2))


def test_duplicate_clip_ids_are_quarantined_once(ray_session, mixed_media, tmp_path):
    _, rows, _ = mixed_media
    some = [r for r in rows if r["video_id"] == "h264"]
    manifest = _write_manifest(tmp_path / "dup.parquet", [*some, some[0]])
    out = tmp_path / "dup"
    s = run_ingest(_config(manifest, out))
    assert s.ok and s.rows_in == 4 and s.rows_written == 3
    assert s.quarantine_reasons == {"duplicate_clip_id": 1}
    before = _files(out)
    assert run_ingest(_config(manifest, out)).files_written == 0 and _files(out) == before


def test_leftover_temporary_files_are_never_read(ray_session, mixed_media, tmp_path):
    _, rows, _ = mixed_media
    manifest = _write_manifest(tmp_path / "m.parquet", [r for r in rows if r["video_id"] == "vp9"])
    out = tmp_path / "tmpfiles"
    hidden = out / "ego4d" / "split=train" / ".vp9-0123456789ab.parquet.tmp-deadbeef"
    hidden.parent.mkdir(parents=True)
    hidden.write_bytes(b"PAR1 half a file")
    s = run_ingest(_config(manifest, out))
    assert s.ok and s.rows_written == 3
    assert len(store.read_clips(str(out))) == 3


def test_segment_span_option_samples_inside_the_labelled_segment(ray_session, mixed_media, tmp_path):
    _, rows, _ = mixed_media
    manifest = _write_manifest(tmp_path / "m.parquet", [r for r in rows if r["video_id"] == "h264"])
    out = tmp_path / "segment"
    run_ingest(_config(manifest, out, span="segment", count=2, first_last=False))
    for row in rows_by_clip(out).values():
        assert (row["sample_start_sec"], row["sample_end_sec"]) == (row["start_sec"], row["end_sec"])
        assert row["num_frames"] == 3 and row["first_frame"] is None  # N = 1, 2: 1/4, 1/2, 3/4
        assert all(row["start_sec"] <= t <= row["end_sec"] for t in row["frame_target_sec"])


def test_output_root_may_be_a_filesystem_uri(ray_session, mixed_media, tmp_path):
    _, rows, _ = mixed_media
    manifest = _write_manifest(tmp_path / "m.parquet", [r for r in rows if r["video_id"] == "vp9"])
    uri = f"file://{tmp_path / 'uri_out'}"
    s = run_ingest(
        IngestConfig(
            manifest=f"file://{manifest}", out=uri, frames=FRAMES, resources={"progress_bars": False}
        )
    )
    assert s.ok and s.rows_written == 3
    assert store.read_clips(uri).num_rows == 3 and (tmp_path / "uri_out" / "ego4d").is_dir()


def test_job_entry_point_with_yaml_config_and_flags(ray_session, mixed_media, tmp_path):
    _, rows, _ = mixed_media
    manifest = _write_manifest(tmp_path / "m.parquet", [r for r in rows if r["video_id"] == "hevc"])
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text("frames:\n  count: 2\n  jpeg_quality: 80\nresources:\n  progress_bars: false\n")
    out = tmp_path / "cli"
    argv = ["--manifest", str(manifest), "--out", str(out), "--config", str(cfg), "--size", "32"]
    assert 'job_main("ingest")' in (REPO / "jobs" / "ingest.py").read_text()  # the job is the CLI
    assert job_main("ingest", argv) == 0  # Ray is already up (the session's): the job reuses it
    table = store.read_clips(str(out))
    assert table.num_rows == 3
    assert set(table.column("num_frames").to_pylist()) == {3}
    assert set(table.column("frame_width").to_pylist()) == {32}
    assert job_main("ingest", ["--out", str(out)]) == 2  # no --manifest: a config error, exit status 2
    assert job_main("ingest", ["--manifest", "m", "--out", "o", "--set", "frames.count=0"]) == 2


def test_cli_flags_become_typed_config_values():
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        ["--manifest", "m.parquet", "--out", "s3://bucket/clips", "--frames", "1", "--span", "segment"]
    )
    cfg = cli.load_ingest_config(args)
    assert (cfg.frames.count, cfg.frames.span, cfg.frames.short_side, cfg.out) == (
        1,
        "segment",
        224,
        "s3://bucket/clips",
    )
    args = parser.parse_args(
        ["--manifest", "m", "--out", "o", "--size", "64", "--set", "frames.crop_size=null"]
    )
    cfg = cli.load_ingest_config(args)
    assert (cfg.frames.short_side, cfg.frames.crop_size) == (64, None)
    with pytest.raises(ConfigError, match="crop_size"):
        cli.load_ingest_config(
            parser.parse_args(["--manifest", "m", "--out", "o", "--set", "frames.crop_size=300"])
        )
