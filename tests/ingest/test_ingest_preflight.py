"""`egodistill ingest` fails in a second, before Ray starts, when the run could only fail."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingestfakes import clip_row, manifest_table

from egodistill import runtime
from egodistill.cli import main
from egodistill.ingest.store import FINGERPRINT_KEY


@pytest.fixture
def no_ray(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("Ray was started before the inputs were checked")

    monkeypatch.setattr(runtime, "ensure_ray", refuse)


def _fast_one_line(argv, capsys) -> str:
    t0 = time.perf_counter()
    rc = main(argv)
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and elapsed < 5.0, (rc, err, elapsed)
    return err[0]


def test_missing_manifest_names_it_and_the_index_command(no_ray, tmp_path, capsys):
    line = _fast_one_line(
        ["ingest", "--manifest", str(tmp_path / "m.parquet"), "--out", str(tmp_path / "c")], capsys
    )
    assert str(tmp_path / "m.parquet") in line and "egodistill index" in line


def test_reingest_with_other_settings_is_refused_before_ray(no_ray, tmp_path, capsys):
    manifest = tmp_path / "m.parquet"
    pq.write_table(
        manifest_table([clip_row("c0", "v0", tmp_path / "v.mp4", tmp_path / "i.csv", 2.0)]), manifest
    )
    out = tmp_path / "clips"
    part = out / "ego4d" / "split=train" / "v0-000000000000.parquet"
    part.parent.mkdir(parents=True)
    table = pa.table({"dataset": ["ego4d"], "clip_id": ["c0"]})
    pq.write_table(table.replace_schema_metadata({FINGERPRINT_KEY: b"0123456789abcdef"}), part)
    line = _fast_one_line(["ingest", "--manifest", str(manifest), "--out", str(out), "--size", "32"], capsys)
    assert "fingerprint 0123456789abcdef" in line and str(part) in line and "new --out" in line
