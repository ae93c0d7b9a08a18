"""Quarantine: rows a job cannot use are counted and kept with a reason, never dropped silently.

Jobs collect :class:`QuarantineEntry` objects in a :class:`Quarantine` and write them as a Parquet
table (contract ``schemas/quarantine``) next to their output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from egodistill.tables import load_contract


@dataclass(frozen=True)
class QuarantineEntry:
    """One unusable row and why."""

    stage: str
    dataset: str
    source_file: str
    reason: str
    detail: str
    source_row: int | None = None
    item_id: str | None = None
    record: Mapping[str, Any] | None = None

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["record"] = json.dumps(dict(self.record or {}), default=str, sort_keys=True)
        return row


@dataclass
class Quarantine:
    """Accumulates quarantined rows for one job run."""

    entries: list[QuarantineEntry] = field(default_factory=list)

    def add(self, entry: QuarantineEntry) -> None:
        self.entries.append(entry)

    def extend(self, entries: Iterable[QuarantineEntry]) -> None:
        self.entries.extend(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def counts(self) -> Counter[str]:
        """Quarantined rows per reason code."""
        return Counter(e.reason for e in self.entries)

    def to_table(self) -> pa.Table:
        """The entries as a table conforming to the ``quarantine`` contract (empty is fine)."""
        schema = load_contract("quarantine").schema
        return pa.Table.from_pylist([e.to_row() for e in self.entries], schema=schema)
