"""Where teacher features live, how their files are written atomically, and how they are read back.

Layout under the features root (``<workspace>/features`` by default; a local path or any pyarrow
filesystem URI)::

    <root>/<dataset>/<model_name>/part-<video_id>-<hash>.parquet               rows (contract teacher_features)
    <root>/<dataset>/<model_name>/_quarantine/part-<video_id>-<hash>.parquet   rows without a teacher output

One file pair per decoding task (one stretch of one video); ``<hash>`` covers the run fingerprint and
the clip ids, so names are deterministic. Files are written under a hidden temporary name and
renamed (``storage.atomic_write_table``); readers skip names starting with ``.`` or ``_``, like
pyarrow and Ray Data, so a crash never leaves a file that looks complete and a model folder reads as
feature rows only. Resumability mirrors ingest: a clip found in a complete data or quarantine file is
done; a re-run computes the rest. The writer holds the model folder's lease (:mod:`egodistill.leases`);
its scan verifies every file (footer, recorded row count, fingerprint), moves a damaged one to
``<model folder>/_damaged/`` with a log line so its clips are computed again, and fails when a clip
id is in two data files (two writers mixed their rows), as :func:`read_features` does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from egodistill import storage
from egodistill.ingest.store import join, safe_name
from egodistill.tables import conform, validate

log = logging.getLogger(__name__)

CONTRACT = "teacher_features"
FINGERPRINT_KEY = b"egodistill.features.fingerprint"
TEACHER_KEY = b"egodistill.features.teacher"
QUARANTINE_DIR = "_quarantine"
STAGE = "features"


class FeaturesOutputError(ValueError):
    """The model folder holds files written with another teacher or clip geometry."""


def fingerprint(content: dict) -> str:
    """Short hash of everything that changes the numbers (teacher weights, clip geometry, contract)."""
    return hashlib.sha1(
        json.dumps({**content, "contract": "teacher_features/v1"}, sort_keys=True).encode()
    ).hexdigest()[:16]


def model_dir(root: str, dataset: str, model_name: str) -> str:
    return join(root, safe_name(dataset), safe_name(model_name))


def part_id(fp: str, clip_ids: list[str]) -> str:
    h = hashlib.sha1(fp.encode())
    for cid in sorted(clip_ids):
        h.update(b"\0" + cid.encode())
    return h.hexdigest()[:12]


def data_file(directory: str, video_id: str, part: str) -> str:
    return join(directory, f"part-{safe_name(video_id)}-{part}.parquet")


def quarantine_file(directory: str, video_id: str, part: str) -> str:
    return join(directory, QUARANTINE_DIR, f"part-{safe_name(video_id)}-{part}.parquet")


def list_parquet(directory: str, sub: str = "") -> tuple[pafs.FileSystem, list[str]]:
    """Complete ``.parquet`` files directly in ``directory/sub`` (hidden ``.``/``_`` names skipped)."""
    fs, root = storage.resolve(join(directory, sub) if sub else directory)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=False, allow_not_found=True))
    files = [
        i.path
        for i in infos
        if i.type == pafs.FileType.File
        and i.path.endswith(".parquet")
        and not i.base_name.startswith((".", "_"))
    ]
    return fs, sorted(files)


_list_parquet = list_parquet  # the name other modules used first


def _stamp(table: pa.Table, fp: str, teacher: str) -> pa.Table:
    meta = dict(table.schema.metadata or {})
    meta[FINGERPRINT_KEY] = fp.encode()
    meta[TEACHER_KEY] = teacher.encode()
    return storage.stamp_rows(table.replace_schema_metadata(meta))


def write_features(table: pa.Table, uri: str, fp: str, teacher: str, row_group_rows: int = 1024) -> None:
    """Conform to the contract, stamp the fingerprint and write atomically."""
    table = _stamp(conform(table, CONTRACT), fp, teacher)
    storage.atomic_write_table(
        table,
        uri,
        row_group_size=row_group_rows,
        compression="zstd",
        use_dictionary=[c for c in table.column_names if c not in ("teacher_feature", "teacher_logits")],
    )


def write_quarantine(table: pa.Table, uri: str, fp: str, teacher: str) -> None:
    storage.atomic_write_table(_stamp(conform(table, "quarantine"), fp, teacher), uri, compression="zstd")


def _check(schema: pa.Schema, path: str, fp: str | None) -> None:
    found = (schema.metadata or {}).get(FINGERPRINT_KEY)
    if fp is not None and found is not None and found.decode() != fp:
        raise FeaturesOutputError(
            f"{path} was written with features fingerprint {found.decode()}, this run has {fp}: another "
            "teacher (weights) or clip geometry wrote this folder; use another --model-name or --out"
        )


@dataclass
class OutputState:
    """What the complete files of one model folder hold, keyed by clip_id."""

    written: set[str] = field(default_factory=set)
    quarantined: dict[str, str] = field(default_factory=dict)
    data_files: int = 0
    quarantine_files: int = 0
    damaged: list[tuple[str, str, str]] = field(default_factory=list)
    """(file, where it was moved, why) for each damaged file moved aside."""

    def done(self, clip_id: str) -> bool:
        return clip_id in self.written or clip_id in self.quarantined


def _read_ids(
    fs: pafs.FileSystem, path: str, columns: list[str], directory: str, heal: bool, state: OutputState
) -> pa.Table | None:
    """Id columns of a verified file; a damaged file is moved to ``_damaged/`` (``heal``) or raises."""
    return storage.read_ids_or_move_aside(fs, path, columns, directory, heal=heal, stage="features",
                                          error=FeaturesOutputError, damaged=state.damaged)  # fmt: skip


def scan(directory: str, fp: str | None = None, heal: bool = False) -> OutputState:
    """Read the clip ids of every complete file in a model folder (id columns only).

    Raises :class:`FeaturesOutputError` for another fingerprint, a clip id in two data files, or
    (without ``heal``) a damaged file; with ``heal`` (the caller holds the lease) it is moved aside.
    """
    state = OutputState()
    fs, files = list_parquet(directory, "")
    owner: dict[str, str] = {}
    for path in files:
        t = _read_ids(fs, path, ["clip_id"], directory, heal, state)
        if t is None:
            continue
        _check(t.schema, path, fp)
        for cid in t.column("clip_id").to_pylist():
            if cid in owner and owner[cid] != path:
                raise FeaturesOutputError(
                    f"clip {cid} is in two feature files, {owner[cid]} and {path}: two writers mixed "
                    "their rows; delete the files of one run or write to another --model-name"
                )
            owner[cid] = path
        state.written.update(t.column("clip_id").to_pylist())
        state.data_files += 1
    fs, files = list_parquet(join(directory, QUARANTINE_DIR), "")
    for path in files:
        t = _read_ids(fs, path, ["item_id", "reason"], directory, heal, state)
        if t is None:
            continue
        _check(t.schema, path, fp)
        state.quarantined.update(
            zip(t.column("item_id").to_pylist(), t.column("reason").to_pylist(), strict=True)
        )
        state.quarantine_files += 1
    return state


def read_features(root: str, dataset: str, model_name: str, columns: list[str] | None = None) -> pa.Table:
    """All feature rows of one model (validated against the contract in every file)."""
    directory = model_dir(root, dataset, model_name)
    fs, files = list_parquet(directory, "")
    if not files:
        raise FileNotFoundError(f"no teacher feature files under {directory}")
    for path in files:
        problem, meta = storage.parquet_problem(fs, path)
        if problem is not None:
            raise FeaturesOutputError(f"{path}: damaged features file: {problem}; re-run features to heal it")
        validate(meta.schema.to_arrow_schema(), CONTRACT)
    ds = pads.dataset(files, filesystem=fs, format="parquet")
    ids = ds.to_table(columns=["clip_id"]).column("clip_id")
    if len(ids) != len(pc.unique(ids)):
        raise FeaturesOutputError(
            f"{directory}: {len(ids) - len(pc.unique(ids))} clip ids appear more than once: "
            "two writers mixed their rows; write to another --model-name"
        )
    return ds.to_table(columns=columns)


def read_quarantine(root: str, dataset: str, model_name: str) -> pa.Table:
    from egodistill.quarantine import Quarantine

    fs, files = list_parquet(join(model_dir(root, dataset, model_name), QUARANTINE_DIR), "")
    if not files:
        return Quarantine().to_table()
    tables = [pq.read_table(p, filesystem=fs) for p in files]
    for t in tables:
        validate(t, "quarantine")
    return pa.concat_tables([t.replace_schema_metadata(None) for t in tables])


__all__ = [
    "CONTRACT",
    "FeaturesOutputError",
    "OutputState",
    "data_file",
    "fingerprint",
    "list_parquet",
    "model_dir",
    "part_id",
    "quarantine_file",
    "read_features",
    "read_quarantine",
    "scan",
    "write_features",
    "write_quarantine",
]
