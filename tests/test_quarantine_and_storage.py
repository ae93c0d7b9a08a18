from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest

from egodistill.quarantine import Quarantine, QuarantineEntry
from egodistill.storage import atomic_output, atomic_write_table, exists, read_table, resolve
from egodistill.tables import validate


def test_quarantine_table_keeps_reason_and_raw_record(tmp_path):
    q = Quarantine()
    assert q.to_table().num_rows == 0
    validate(q.to_table(), "quarantine")
    q.add(
        QuarantineEntry(
            "index",
            "epic",
            "a.csv",
            "bad_timestamp",
            "start '00:xx' unparsable",
            3,
            "P01_101_3",
            {"start": "00:xx"},
        )
    )
    q.add(QuarantineEntry("index", "epic", "a.csv", "bad_timestamp", "again", 4))
    table = q.to_table()
    validate(table, "quarantine")
    assert q.counts() == {"bad_timestamp": 2}
    assert table.column("source_row").to_pylist() == [3, 4]
    assert json.loads(table.column("record")[0].as_py()) == {"start": "00:xx"}


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    with pytest.raises(RuntimeError), atomic_output(target) as out:
        out.write(b"partial")
        raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert os.listdir(tmp_path / "sub") == []


def test_atomic_table_round_trip_and_uri(tmp_path):
    table = pa.table({"a": [1, 2, 3]})
    atomic_write_table(table, f"file://{tmp_path}/t.parquet")
    assert exists(tmp_path / "t.parquet")
    assert read_table(tmp_path / "t.parquet").equals(table)
    fs, path = resolve("relative/x.parquet")
    assert path.startswith("/") and fs.type_name == "local"
