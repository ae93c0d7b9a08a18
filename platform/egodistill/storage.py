"""Filesystem helpers: local paths or any pyarrow filesystem URI, with atomic writes.

A job that crashes must never leave a file that a later run reads as complete, so every writer
goes through :func:`atomic_write_table` / :func:`atomic_output`: write to a temporary name in the
same directory, then rename.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def resolve(uri: str | os.PathLike[str]) -> tuple[pafs.FileSystem, str]:
    """Split a local path or URI (``s3://``, ``gs://``, ``file://``) into (filesystem, path)."""
    text = os.fspath(uri)
    if "://" not in text:
        return pafs.LocalFileSystem(), str(Path(text).absolute())
    fs, path = pafs.FileSystem.from_uri(text)
    return fs, path


def exists(uri: str | os.PathLike[str]) -> bool:
    fs, path = resolve(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def _tmp_name(path: str) -> str:
    parent, _, name = path.rpartition("/")
    return f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:8]}" if parent else f".{name}.tmp-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def atomic_output(uri: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open ``uri`` for writing; the file appears under its name only if the block succeeds."""
    fs, path = resolve(uri)
    parent = path.rpartition("/")[0]
    if parent:
        fs.create_dir(parent, recursive=True)
    tmp = _tmp_name(path)
    try:
        with fs.open_output_stream(tmp) as out:
            yield out
        fs.move(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError, FileNotFoundError):
            fs.delete_file(tmp)
        raise


def atomic_write_bytes(uri: str | os.PathLike[str], data: bytes) -> None:
    with atomic_output(uri) as out:
        out.write(data)


def atomic_write_table(table: pa.Table, uri: str | os.PathLike[str], **parquet_kwargs: object) -> None:
    """Write a Parquet file atomically."""
    with atomic_output(uri) as out:
        pq.write_table(table, out, **parquet_kwargs)


def read_table(uri: str | os.PathLike[str], columns: list[str] | None = None) -> pa.Table:
    fs, path = resolve(uri)
    return pq.read_table(path, filesystem=fs, columns=columns)


# ----------------------------------------------------------------------------------------------
# verifying outputs on resume

ROWS_KEY = b"egodistill.rows"
DAMAGED_DIR = "_damaged"


def stamp_rows(table: pa.Table) -> pa.Table:
    """Record the row count in the schema metadata, so a resume can check the footer against it."""
    meta = dict(table.schema.metadata or {})
    meta[ROWS_KEY] = str(table.num_rows).encode()
    return table.replace_schema_metadata(meta)


def parquet_problem(fs: pafs.FileSystem, path: str) -> tuple[str | None, pq.FileMetaData | None]:
    """(why the Parquet file is damaged, None) or (None, its footer): footer readable, rows as recorded."""
    try:
        meta = pq.read_metadata(path, filesystem=fs)
    except (pa.ArrowInvalid, OSError, ValueError) as e:
        return f"footer unreadable ({type(e).__name__}: {e})", None
    recorded = (meta.schema.to_arrow_schema().metadata or {}).get(ROWS_KEY)
    if recorded is not None and int(recorded) != meta.num_rows:
        return f"footer holds {meta.num_rows} rows, the writer recorded {int(recorded)}", None
    return None, meta


def move_aside(fs: pafs.FileSystem, root: str, path: str) -> str:
    """Move ``path`` (below ``root``) to ``<root>/_damaged/<same relative path>``; returns the new path.

    Never deletes: the bytes stay for inspection, and the name starts with ``_`` so no reader sees them.
    """
    rel = path[len(root.rstrip("/")) :].lstrip("/") if path.startswith(root) else path.rsplit("/", 1)[-1]
    dest = f"{root.rstrip('/')}/{DAMAGED_DIR}/{rel}"
    if fs.get_file_info(dest).type != pafs.FileType.NotFound:
        dest = f"{dest}.{uuid.uuid4().hex[:8]}"
    fs.create_dir(dest.rpartition("/")[0], recursive=True)
    fs.move(path, dest)
    return dest


def read_ids_or_move_aside(
    fs: pafs.FileSystem, path: str, columns: list[str], out: str, *, heal: bool, stage: str,
    error: type[Exception], damaged: list[tuple[str, str, str]],
) -> pa.Table | None:  # fmt: skip
    """The id columns of a verified output file, or None after moving a damaged one aside (``heal``).

    Without ``heal`` a damaged file raises ``error`` naming it. Each move is logged and recorded in
    ``damaged`` as (file, where it went, why), so the caller redoes that file's unit of work. Ingest
    and features resume through this one check.
    """
    import logging

    problem, _ = parquet_problem(fs, path)
    table = None
    if problem is None:
        try:
            table = pq.read_table(path, filesystem=fs, columns=columns)
        except (pa.ArrowInvalid, OSError) as e:
            problem = f"columns {columns} unreadable ({type(e).__name__}: {e})"
    if problem is None:
        return table
    if not heal:
        raise error(f"{path}: damaged {stage} output: {problem}; re-run {stage} to heal it")
    _, root = resolve(out)
    dest = move_aside(fs, root, path)
    logging.getLogger(__name__).warning(
        "%s: damaged output %s (%s) moved to %s; its clips will be redone", stage, path, problem, dest
    )
    damaged.append((path, dest, problem))
    return None
