from __future__ import annotations

import json

import pyarrow as pa
import pytest

from egodistill import tables
from egodistill.tables import SchemaError, conform, load_contract, parse_type, validate


def test_parse_type_handles_primitives_lists_and_fixed_lists():
    assert parse_type("float32") == pa.float32()
    assert parse_type("list<string>") == pa.list_(pa.string())
    assert parse_type("list<float32>[6]") == pa.list_(pa.float32(), 6)
    with pytest.raises(SchemaError, match="unknown type"):
        parse_type("complex128")


def test_every_contract_in_schemas_dir_loads():
    names = {p.name.split(".v")[0] for p in tables.schema_dir().glob("*.v*.json")}
    assert {"manifest", "quarantine"} <= names
    for name in names:
        contract = load_contract(name)
        assert contract.schema.metadata[tables.SCHEMA_KEY] == contract.tag.encode()
        assert all(f.metadata[b"doc"] for f in contract.schema), f"{name}: every field needs a doc"


@pytest.fixture()
def toy_contract(tmp_path, monkeypatch):
    spec = {
        "name": "toy",
        "version": 2,
        "doc": "test",
        "fields": [
            {"name": "id", "type": "string", "doc": "id"},
            {"name": "x", "type": "float32", "doc": "x", "nullable": True},
        ],
    }
    (tmp_path / "toy.v2.json").write_text(json.dumps(spec))
    (tmp_path / "toy.v1.json").write_text(json.dumps({**spec, "version": 1}))
    monkeypatch.setenv("EGODISTILL_SCHEMA_DIR", str(tmp_path))
    load_contract.cache_clear()
    yield
    load_contract.cache_clear()


def test_conform_orders_casts_and_stamps(toy_contract):
    table = pa.table({"x": pa.array([1.5, None], pa.float64()), "id": ["a", "b"]})
    out = conform(table, "toy")
    assert out.column_names == ["id", "x"]
    assert out.schema.field("x").type == pa.float32()
    assert out.schema.metadata[tables.SCHEMA_KEY] == b"toy/v2"
    assert validate(out, "toy").version == 2


def test_conform_rejects_missing_extra_and_nulls(toy_contract):
    with pytest.raises(SchemaError, match="missing columns \\['x'\\]"):
        conform(pa.table({"id": ["a"]}), "toy")
    with pytest.raises(SchemaError, match="unexpected columns \\['y'\\]"):
        conform(pa.table({"id": ["a"], "x": [1.0], "y": [2]}), "toy")
    with pytest.raises(SchemaError, match="not nullable"):
        conform(pa.table({"id": pa.array([None], pa.string()), "x": [1.0]}), "toy")


def test_validate_rejects_other_version_and_wrong_type(toy_contract):
    old = conform(pa.table({"id": ["a"], "x": [1.0]}), "toy", version=1)
    with pytest.raises(SchemaError, match="written as toy/v1"):
        validate(old, "toy")
    with pytest.raises(SchemaError, match="wants float"):
        validate(pa.schema([("id", pa.string()), ("x", pa.string())]), "toy")
