"""`egodistill ingest` leaves an MLflow run (params, counts, summary) in the workspace's store."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from ingestfakes import manifest_table
from mlflow.tracking import MlflowClient

from egodistill.cli import main
from egodistill.ingest.config import IngestConfig
from egodistill.storage import atomic_write_table
from egodistill.tracking import default_tracking_uri


@pytest.fixture(autouse=True)
def _default_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.mark.ray
def test_ingest_run_lands_in_the_parent_of_out(ray_session, mixed_media, tmp_path, capsys):
    _, rows, _ = mixed_media
    some = [r for r in rows if r["video_id"] in ("vp9", "missing")]  # 3 written, 1 video_missing
    manifest = tmp_path / "manifests" / "m.parquet"
    atomic_write_table(manifest_table(some), str(manifest))
    ws = tmp_path / "ws"
    argv = [
        "ingest",
        "--manifest",
        str(manifest),
        "--out",
        str(ws / "clips"),
        "--size",
        "32",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert "ingest OK: rows in 4 = written 3 + quarantined 1" in capsys.readouterr().out
    client = MlflowClient(tracking_uri=default_tracking_uri(ws))
    exp = client.get_experiment_by_name("egodistill-ingest")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    m = run.data.metrics
    assert (m["rows_in"], m["rows_written"], m["rows_quarantined"], m["rows_missing"]) == (4, 3, 1, 0)
    assert m["quarantine.video_missing"] == 1 and m["videos"] == 2 and m["ok"] == 1 and m["elapsed_sec"] > 0
    assert run.data.params["frames.crop_size"] == "32" and run.data.params["out"] == str(ws / "clips")
    local = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "art")))
    assert "ingest OK" in (local / "summary.txt").read_text()
    assert json.loads((local / "quarantine_reasons.json").read_text()) == {"video_missing": 1}


def test_store_comes_from_workspace_or_out_and_a_uri_out_alone_is_not_tracked(monkeypatch, caplog):
    assert IngestConfig(out="/data/ws/clips").tracking_workspace() == "/data/ws"
    assert IngestConfig(out="file:///data/ws/clips").tracking_workspace() == "/data/ws"
    assert IngestConfig(out="s3://b/clips", workspace="/w").tracking_workspace() == "/w"
    assert IngestConfig(out="/data/ws/clips", tracking={"enabled": False}).tracking_workspace() is None
    with caplog.at_level(logging.WARNING, logger="egodistill.tracking"):
        assert IngestConfig(out="s3://b/clips").tracking_workspace() is None
    assert "not tracking" in caplog.text
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert IngestConfig(out="s3://b/clips").tracking_workspace() == "workspace"
