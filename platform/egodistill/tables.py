"""Table contracts: load the versioned Arrow schemas in ``schemas/`` and validate tables against them.

A contract is a JSON file ``schemas/<name>.v<version>.json`` listing fields with a type, nullability
and a doc string. Writers call :func:`conform` before writing (it orders columns, casts safe type
differences and stamps the contract name/version into the schema metadata); readers call
:func:`validate` so that a table written by another version fails with a clear message.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa

SCHEMA_KEY = b"egodistill.schema"

_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "binary": pa.binary(),
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float16": pa.float16(),
    "float32": pa.float32(),
    "float64": pa.float64(),
}


class SchemaError(ValueError):
    """A table does not satisfy its contract, or a contract file is malformed."""


def schema_dir() -> Path:
    """Where the contracts live: ``$EGODISTILL_SCHEMA_DIR`` or the repository's ``schemas/``."""
    env = os.environ.get("EGODISTILL_SCHEMA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "schemas"


def parse_type(text: str) -> pa.DataType:
    """Parse ``float32``, ``list<string>``, ``list<float32>[6]`` (fixed size) into an Arrow type."""
    text = text.strip()
    if text in _PRIMITIVES:
        return _PRIMITIVES[text]
    m = re.fullmatch(r"list<(.+)>(?:\[(\d+)\])?", text)
    if m:
        inner = parse_type(m.group(1))
        return pa.list_(inner, int(m.group(2))) if m.group(2) else pa.list_(inner)
    raise SchemaError(f"unknown type {text!r} in a schema contract")


@dataclass(frozen=True)
class Contract:
    """One versioned table contract."""

    name: str
    version: int
    doc: str
    schema: pa.Schema

    @property
    def tag(self) -> str:
        return f"{self.name}/v{self.version}"


@cache
def load_contract(name: str, version: int | None = None) -> Contract:
    """Load ``schemas/<name>.v<version>.json``; the newest version when ``version`` is None."""
    root = schema_dir()
    if version is None:
        found = sorted(
            (int(m.group(1)), p)
            for p in root.glob(f"{name}.v*.json")
            if (m := re.fullmatch(rf"{re.escape(name)}\.v(\d+)\.json", p.name))
        )
        if not found:
            raise SchemaError(f"no contract named {name!r} in {root}")
        version, path = found[-1]
    else:
        path = root / f"{name}.v{version}.json"
        if not path.is_file():
            raise SchemaError(f"no contract {name!r} version {version} at {path}")
    spec = json.loads(path.read_text())
    fields = []
    for f in spec["fields"]:
        meta = {b"doc": f.get("doc", "").encode()}
        if "unit" in f:
            meta[b"unit"] = f["unit"].encode()
        fields.append(
            pa.field(f["name"], parse_type(f["type"]), nullable=f.get("nullable", False), metadata=meta)
        )
    tag = f"{name}/v{version}".encode()
    schema = pa.schema(fields, metadata={SCHEMA_KEY: tag})
    return Contract(name=name, version=version, doc=spec.get("doc", ""), schema=schema)


def conform(table: pa.Table, name: str, version: int | None = None) -> pa.Table:
    """Return ``table`` ordered, cast and stamped to the contract; raise :class:`SchemaError` if it cannot be."""
    contract = load_contract(name, version)
    missing = [f.name for f in contract.schema if f.name not in table.column_names]
    extra = [c for c in table.column_names if contract.schema.get_field_index(c) < 0]
    if missing or extra:
        raise SchemaError(
            f"table does not match contract {contract.tag}: missing columns {missing}, unexpected columns {extra}"
        )
    columns = []
    for field in contract.schema:
        col = table.column(field.name)
        if not field.nullable and col.null_count:
            raise SchemaError(
                f"column {field.name!r} of {contract.tag} is not nullable but holds {col.null_count} nulls"
            )
        if col.type != field.type:
            try:
                col = col.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise SchemaError(
                    f"column {field.name!r} has type {col.type}, contract {contract.tag} wants {field.type}: {e}"
                ) from e
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=contract.schema)


def validate(schema_or_table: pa.Schema | pa.Table, name: str, version: int | None = None) -> Contract:
    """Check a read table (or its schema) against a contract; exact types, stamped version."""
    schema = schema_or_table.schema if isinstance(schema_or_table, pa.Table) else schema_or_table
    contract = load_contract(name, version)
    stamp = (schema.metadata or {}).get(SCHEMA_KEY)
    if stamp is not None and stamp.decode() != contract.tag:
        raise SchemaError(f"table was written as {stamp.decode()}, expected {contract.tag}")
    for field in contract.schema:
        idx = schema.get_field_index(field.name)
        if idx < 0:
            raise SchemaError(f"column {field.name!r} required by {contract.tag} is missing")
        if not schema.field(idx).type.equals(field.type):
            raise SchemaError(
                f"column {field.name!r} has type {schema.field(idx).type}, {contract.tag} wants {field.type}"
            )
    return contract
