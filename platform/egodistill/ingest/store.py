"""Where the clips dataset lives, how its files are written atomically, and how it is read back.

Layout under the output root ``<out>`` (a local path or any pyarrow filesystem URI)::

    <out>/<dataset>/split=<split>/<video_id>-<part>.parquet    clip rows (contract ``clips``)
    <out>/_quarantine/<dataset>/<video_id>-<part>.parquet      clips that could not be ingested
    <out>/_quarantine/<dataset>/duplicates-<hash>.parquet      repeated manifest rows
    <out>/_quarantine/unsafe_id-<hash>.parquet                 rows whose ids cannot name a path
    <out>/_damaged/...                                         files found damaged on resume (moved aside)
    <out>/_lease.json                                          the running writer's lease (leases.py)

``<part>`` hashes the config fingerprint and the clip ids the file was written for, so names are
deterministic and a file is never overwritten with different content. Every file is written to a
hidden temporary name and renamed (``storage.atomic_output``), and every reader here ignores names
starting with ``.`` or ``_`` (as pyarrow and Ray Data do), so a crashed write is never read.
The quarantine lives outside ``<out>/<dataset>`` so that reading a dataset directory yields clip rows only.

On resume every file is verified (:func:`egodistill.storage.parquet_problem`: footer readable, row
count as recorded, id columns readable, fingerprint as this run's); a damaged file is moved to
``<out>/_damaged/`` with a log line, so its clips are pending again and the run redoes them. A clip
id found in two data files means two writers mixed their rows: scanning and :func:`read_clips` fail.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from egodistill import storage
from egodistill.tables import conform, validate

log = logging.getLogger(__name__)

CONTRACT = "clips"
FINGERPRINT_KEY = b"egodistill.ingest.fingerprint"
QUARANTINE_DIR = "_quarantine"
DUPLICATE_REASON = "duplicate_clip_id"
UNSAFE_REASON = "unsafe_id"
PATH_ID_COLUMNS = ("dataset", "split", "video_id")
"""Manifest columns whose values become path components of the output."""


class IngestOutputError(ValueError):
    """The output root holds files this run must not mix with (other config, other contract)."""


def join(base: str, *parts: str) -> str:
    """Join URI or path segments with ``/`` (works for local paths and ``scheme://`` URIs)."""
    out = base.rstrip("/")
    for p in parts:
        out = f"{out}/{p.strip('/')}"
    return out


def safe_name(text: str) -> str:
    """A file-name-safe version of an id (ids are usually safe already); never ``.``/``..``/hidden."""
    name = re.sub(r"[^A-Za-z0-9._=-]", "_", text) or "_"
    return "-" + name[1:] if name.startswith(".") else name


def part_id(fingerprint: str, clip_ids: Iterable[str]) -> str:
    """Deterministic part name for a set of clips written under one config."""
    h = hashlib.sha1(fingerprint.encode())
    for cid in sorted(clip_ids):
        h.update(b"\0" + cid.encode())
    return h.hexdigest()[:12]


def data_file(out: str, dataset: str, split: str, video_id: str, part: str) -> str:
    return join(out, safe_name(dataset), f"split={safe_name(split)}", f"{safe_name(video_id)}-{part}.parquet")


def quarantine_file(out: str, dataset: str, video_id: str, part: str) -> str:
    return join(out, QUARANTINE_DIR, safe_name(dataset), f"{safe_name(video_id)}-{part}.parquet")


def duplicates_file(out: str, dataset: str, part: str) -> str:
    return join(out, QUARANTINE_DIR, safe_name(dataset), f"duplicates-{part}.parquet")


def unsafe_file(out: str, part: str) -> str:
    """Quarantine of rows with unsafe ids: directly in ``_quarantine/`` (their dataset name is not trusted)."""
    return join(out, QUARANTINE_DIR, f"{UNSAFE_REASON}-{part}.parquet")


def _stamp(table: pa.Table, fingerprint: str) -> pa.Table:
    meta = dict(table.schema.metadata or {})
    meta[FINGERPRINT_KEY] = fingerprint.encode()
    return storage.stamp_rows(table.replace_schema_metadata(meta))


def write_clips(table: pa.Table, uri: str, fingerprint: str, row_group_rows: int, compression: str) -> None:
    """Conform ``table`` to the ``clips`` contract and write it atomically with the fingerprint."""
    table = _stamp(conform(table, CONTRACT), fingerprint)
    storage.atomic_write_table(
        table,
        uri,
        row_group_size=row_group_rows,
        compression=None if compression == "none" else compression,
        # JPEG bytes do not compress; dictionary pages for them only cost memory
        use_dictionary=[
            c for c in table.column_names if c not in ("frames", "first_frame", "last_frame", "imu")
        ],
    )


def write_quarantine(table: pa.Table, uri: str, fingerprint: str) -> None:
    """Write a quarantine table (contract ``quarantine``) atomically with the fingerprint."""
    storage.atomic_write_table(_stamp(conform(table, "quarantine"), fingerprint), uri, compression="zstd")


def _list_parquet(out: str, sub: str) -> tuple[pafs.FileSystem, list[str]]:
    """Complete ``.parquet`` files under ``<out>/<sub>``, skipping hidden (``.``/``_``) names below it."""
    fs, root = storage.resolve(join(out, sub) if sub else out)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    files = []
    for info in infos:
        if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
            continue
        rel = info.path[len(root) :].lstrip("/")
        if any(part.startswith((".", "_")) for part in rel.split("/")):
            continue
        files.append(info.path)
    return fs, sorted(files)


def _datasets(out: str) -> list[str]:
    fs, root = storage.resolve(out)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=False, allow_not_found=True))
    return sorted(
        i.base_name
        for i in infos
        if i.type == pafs.FileType.Directory and not i.base_name.startswith((".", "_"))
    )


class FingerprintMismatch(IngestOutputError):
    """``--out`` holds clips written with other frame/IMU settings (found before Ray by the preflight)."""


def _check_fingerprint(schema: pa.Schema, path: str, fingerprint: str | None) -> None:
    found = (schema.metadata or {}).get(FINGERPRINT_KEY)
    if fingerprint is not None and found is not None and found.decode() != fingerprint:
        raise FingerprintMismatch(
            f"{path} was written with ingest config fingerprint {found.decode()}, this run has {fingerprint}: "
            "frame/IMU settings differ from the ones the existing dataset was built with; "
            "write to a new --out or use the same settings"
        )


@dataclass
class OutputState:
    """What complete files in ``<out>`` already hold, keyed by (dataset, clip_id)."""

    written: dict[tuple[str, str], str] = field(default_factory=dict)
    """clip -> data file holding its row."""
    quarantined: dict[tuple[str, str], str] = field(default_factory=dict)
    """clip -> quarantine reason (duplicate rows not included)."""
    duplicate_files: set[str] = field(default_factory=set)
    data_files: int = 0
    quarantine_files: int = 0
    damaged: list[tuple[str, str, str]] = field(default_factory=list)
    """(file, where it was moved, why) for every damaged file moved aside by this scan."""

    def done(self, key: tuple[str, str]) -> bool:
        return key in self.written or key in self.quarantined


def _read_ids(
    fs: pafs.FileSystem, path: str, columns: list[str], out: str, heal: bool, state: OutputState
) -> pa.Table | None:
    """Id columns of a verified file; a damaged file is moved to ``_damaged/`` (``heal``) or raises."""
    return storage.read_ids_or_move_aside(fs, path, columns, out, heal=heal, stage="ingest",
                                          error=IngestOutputError, damaged=state.damaged)  # fmt: skip


def duplicate_error(key: tuple[str, str], first: str, second: str, count: int) -> IngestOutputError:
    return IngestOutputError(
        f"clip {key[0]}/{key[1]} is in two files, {first} and {second} ({count} repeated clip ids): two "
        "writers mixed their rows in this output; delete the files of one run or re-ingest into a new --out"
    )


def scan_output(out: str, fingerprint: str | None = None, heal: bool = False) -> OutputState:
    """Read the clip ids of every complete file under ``out`` (only the id columns are read).

    Raises :class:`IngestOutputError` when a file carries another config fingerprint, when a clip id
    is in two data files, or (without ``heal``) when a file is damaged; with ``heal`` a damaged file
    is moved to ``<out>/_damaged/`` instead (the caller holds the output's lease).
    """
    state = OutputState()
    repeated: list[tuple[tuple[str, str], str, str]] = []
    for dataset in _datasets(out):
        fs, files = _list_parquet(out, safe_name(dataset))
        for path in files:
            t = _read_ids(fs, path, ["dataset", "clip_id"], out, heal, state)
            if t is None:
                continue
            _check_fingerprint(t.schema, path, fingerprint)
            for ds_name, cid in zip(
                t.column("dataset").to_pylist(), t.column("clip_id").to_pylist(), strict=True
            ):
                key = (ds_name, cid)
                if key in state.written and state.written[key] != path:
                    repeated.append((key, state.written[key], path))
                state.written[key] = path
            state.data_files += 1
    if repeated:
        raise duplicate_error(*repeated[0], len(repeated))
    fs, files = _list_parquet(join(out, QUARANTINE_DIR), "")
    for path in files:
        t = _read_ids(fs, path, ["dataset", "item_id", "reason"], out, heal, state)
        if t is None:
            continue
        _check_fingerprint(t.schema, path, fingerprint)
        state.quarantine_files += 1
        if path.rsplit("/", 1)[-1].startswith("duplicates-"):
            state.duplicate_files.add(path.rsplit("/", 1)[-1])
            continue
        for ds_name, cid, reason in zip(
            t.column("dataset").to_pylist(),
            t.column("item_id").to_pylist(),
            t.column("reason").to_pylist(),
            strict=True,
        ):
            state.quarantined[(ds_name, cid)] = reason
    return state


def clip_files(
    out: str, dataset: str | None = None, split: str | None = None
) -> tuple[pafs.FileSystem, list[str]]:
    """The complete data files of the dataset (optionally one dataset / split)."""
    names = [dataset] if dataset is not None else _datasets(out)
    fs, _ = storage.resolve(out)
    files: list[str] = []
    for name in names:
        sub = join(safe_name(name), f"split={safe_name(split)}") if split is not None else safe_name(name)
        files += _list_parquet(out, sub)[1]
    return fs, files


def read_clips(
    out: str, dataset: str | None = None, split: str | None = None, columns: list[str] | None = None
) -> pa.Table:
    """Read clip rows (all, or one dataset / split), validated against the ``clips`` contract."""
    fs, files = clip_files(out, dataset, split)
    if not files:
        raise FileNotFoundError(f"no clip files under {out} (dataset={dataset}, split={split})")
    for path in files:  # every file, not only the first: versions must not mix, damage must not pass
        problem, meta = storage.parquet_problem(fs, path)
        if problem is not None:
            raise IngestOutputError(f"{path}: damaged clips file: {problem}; re-run ingest to heal it")
        validate(meta.schema.to_arrow_schema(), CONTRACT)
    ds = pads.dataset(files, filesystem=fs, format="parquet")
    check_unique_clips(ds.to_table(columns=["dataset", "clip_id"]), out)
    return ds.to_table(columns=columns)


def check_unique_clips(ids: pa.Table, where: str) -> None:
    """Raise :class:`IngestOutputError` when a (dataset, clip_id) appears more than once in ``ids``."""
    counts = ids.group_by(["dataset", "clip_id"]).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts["count_all"], 1))
    if repeated.num_rows:
        first = repeated.slice(0, 1).to_pylist()[0]
        raise IngestOutputError(
            f"{where}: {repeated.num_rows} clip ids appear more than once (e.g. {first['dataset']}/"
            f"{first['clip_id']} x{first['count_all']}): two writers mixed their rows; re-ingest into a new --out"
        )


def read_quarantine(out: str) -> pa.Table:
    """All quarantine rows under ``out`` (empty table when there are none)."""
    from egodistill.quarantine import Quarantine

    fs, files = _list_parquet(join(out, QUARANTINE_DIR), "")
    if not files:
        return Quarantine().to_table()
    tables = [pq.read_table(p, filesystem=fs) for p in files]
    for t in tables:
        validate(t, "quarantine")
    return pa.concat_tables([t.replace_schema_metadata(None) for t in tables])
