"""IMU loading, cleaning, alignment and fixed-window resampling for Ego4D and EPIC-Kitchens.

The raw files are messy in documented ways (shared/docs/data-formats.md §1.4, §2.6): Ego4D rows can
have NULL, duplicate, out-of-order or absurd timestamps and empty accelerometer cells; EPIC keeps
accelerometer and gyroscope in two files on two clocks whose first second may be stamped -1000 ms.
:func:`load_imu_stream` turns one video's file(s) into a clean :class:`ImuStream` on the video
timeline and counts every row it drops; :func:`extract_window` cuts the model's fixed window
(422 samples at 198 Hz, seed 000 supplement C) with a validity mask instead of interpolating across
gaps or inventing missing values.

Why this module is long: IMU cleaning, merging and windowing are one pipeline whose steps share their quality counters.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pydantic import Field

from egodistill.config import StrictConfig

IMU_CHANNELS = ("accl_x", "accl_y", "accl_z", "gyro_x", "gyro_y", "gyro_z")
"""Channel order of every stream and window: accelerometer xyz, then gyroscope xyz (like imu2clip)."""

EGO4D_IMU_HEADER = (
    "component_idx",
    "component_timestamp_ms",
    "canonical_timestamp_ms",
    "gyro_x",
    "gyro_y",
    "gyro_z",
    "accl_x",
    "accl_y",
    "accl_z",
)
EPIC_ACCL_HEADER = ("Milliseconds", "AcclX", "AcclY", "AcclZ")
EPIC_GYRO_HEADER = ("Milliseconds", "GyroX", "GyroY", "GyroZ")

# Ego4D does not document its IMU units (data-formats.md §1.4); EPIC's files come from gopro-utils,
# whose accelerometer is m/s^2 and gyroscope rad/s (§2.6). Recorded per stream, never used to rescale.
UNITS = {
    "ego4d": ("unknown",) * 6,
    "epic": ("m/s^2",) * 3 + ("rad/s",) * 3,
}

_NULLS = ["", "NULL", "null", "None", "NaN", "nan", "NA"]


class ImuWindowConfig(StrictConfig):
    """How IMU is cleaned and cut into model windows; the same config must serve index and ingest."""

    rate_hz: float = Field(198.0, gt=0)
    """Window sample rate (seed 000: 422 x 6 at 198 Hz)."""
    num_samples: int = Field(422, ge=2)
    subtract_mean: bool = True
    """Subtract each channel's mean over the window's valid samples (seed 000 supplement C)."""
    min_coverage: float = Field(0.8, ge=0.0, le=1.0)
    """Clips whose window has a smaller fraction of valid samples are quarantined at index time."""
    max_gap_ms: float = Field(20.0, gt=0)
    """Never interpolate between source samples further apart than this (~4 periods at 200 Hz)."""
    range_tolerance_ms: float = Field(200.0, ge=0)
    """Rows whose timestamp lies outside [-tol, duration + tol] are dropped as out_of_range."""
    epic_negative_start: Literal["shift", "drop", "keep"] = "shift"
    """EPIC files whose first Milliseconds is ~-1000 (gpmd2csv starts at second -1): shift the file
    by +1000 ms (default), drop the negative rows, or keep the timestamps as written. Under
    "shift", a negative start that is not ~-1000 ms has its negative rows dropped."""
    epic_start_tolerance_ms: float = 100.0
    """How close to -1000 ms the first timestamp must be for the shift rule to apply."""
    epic_max_start_skew_ms: float = 100.0
    """Accelerometer and gyroscope first timestamps further apart than this: imu_clock_skew."""
    saturation_min_run: int = Field(3, ge=2)
    """A channel's min/max held for this many consecutive samples counts as sensor clipping."""

    @property
    def window_sec(self) -> float:
        return self.num_samples / self.rate_hz


class ImuFileError(ValueError):
    """A whole IMU file is unusable; ``reason`` is the quarantine code, the message names the file."""

    def __init__(self, path: str | Path, reason: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.reason = reason


@dataclass
class ImuStream:
    """One video's cleaned IMU on the video timeline."""

    t_ms: np.ndarray
    """Sorted unique timestamps, float64 ms on the video timeline."""
    values: np.ndarray
    """(n, 6) float32 in IMU_CHANNELS order; NaN where a value is missing."""
    rate_hz: float
    """Source rate estimated from the spacing of the samples (gaps excluded)."""
    units: tuple[str, ...]
    source_files: tuple[str, ...]
    dropped: dict[str, int] = field(default_factory=dict)
    """Rows removed while cleaning, by reason (malformed_row, null_timestamp, bad_timestamp,
    out_of_range, negative_timestamp, duplicate_timestamp)."""
    qa: dict[str, float] = field(default_factory=dict)
    """Other figures: raw_rows, missing_value_rows, out_of_order_rows, gaps, gap_ms_total,
    time_shift_ms, coverage_of_video."""
    saturation: np.ndarray = field(default_factory=lambda: np.full((2, 6), np.nan))
    """(2, 6) per-channel low/high clipping levels found in the file (NaN when none)."""


@dataclass
class ImuWindow:
    """The model's fixed IMU input for one clip."""

    samples: np.ndarray
    """(num_samples, 6) float32; mean-subtracted where valid, 0 where invalid."""
    mask: np.ndarray
    """(num_samples,) bool; True where all six channels were interpolated from close samples."""
    coverage: float
    max_gap_ms: float
    clipped: int
    """Source readings inside the window sitting at a detected clipping level."""
    rate_hz: float


# ----------------------------------------------------------------------------------------------
# reading


def _read_header(path: Path, expected: Sequence[str]) -> list[str]:
    if not path.is_file():
        raise ImuFileError(path, "imu_missing", "IMU file not found")
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        first = f.readline()
    if not first.strip():
        raise ImuFileError(path, "imu_empty", f"IMU file is empty; expected header {','.join(expected)}")
    header = [h.strip() for h in next(csv.reader([first]))]
    missing = [c for c in expected if c not in header]
    if missing:
        raise ImuFileError(
            path,
            "imu_bad_header",
            f"header {','.join(header)!r} lacks {missing}; expected {','.join(expected)}",
        )
    return header


def _to_float(col: pa.ChunkedArray) -> np.ndarray:
    """String column -> float64 with NaN for null, unparsable or infinite cells."""
    try:
        out = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = np.array([_parse(s) for s in col.to_pylist()], dtype=np.float64)
    out = np.array(out, dtype=np.float64)  # a writable copy
    out[~np.isfinite(out)] = np.nan
    return out


def _parse(text: str | None) -> float:
    if text is None:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _read_columns(
    path: Path, expected: Sequence[str], time_col: str, counts: Counter[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Parse a CSV file into a timestamp array and float channel arrays; count dropped rows."""
    header = _read_header(path, expected)
    bad: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(row.number)
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                include_columns=list(expected),
                null_values=_NULLS,
                strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as e:
        raise ImuFileError(path, "imu_unreadable", f"cannot be read as CSV: {e}") from e
    counts["malformed_row"] += len(bad)
    counts["raw_rows"] += table.num_rows + len(bad)
    raw_t = table.column(time_col)
    t = _to_float(raw_t)
    is_null = raw_t.is_null().to_numpy(zero_copy_only=False)
    counts["null_timestamp"] += int(is_null.sum())
    counts["bad_timestamp"] += int((np.isnan(t) & ~is_null).sum())
    channels = {c: _to_float(table.column(c)) for c in expected if c != time_col}
    keep = ~np.isnan(t)
    return t[keep], {c: v[keep] for c, v in channels.items()}


def _sort_dedupe(t: np.ndarray, values: np.ndarray, counts: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
    counts["out_of_order_rows"] += int((np.diff(t) < 0).sum())
    order = np.argsort(t, kind="stable")
    t, values = t[order], values[order]
    dup = np.zeros(len(t), dtype=bool)
    dup[1:] = t[1:] == t[:-1]
    counts["duplicate_timestamp"] += int(dup.sum())
    return t[~dup], values[~dup]


def _drop_out_of_range(
    t: np.ndarray, values: np.ndarray, duration_ms: float | None, tol: float, counts: Counter[str]
) -> tuple[np.ndarray, np.ndarray]:
    hi = math.inf if duration_ms is None else duration_ms + tol
    bad = (t < -tol) | (t > hi)
    counts["out_of_range"] += int(bad.sum())
    return t[~bad], values[~bad]


# Plausible IMU sample rates; a file whose spacing only fits them after /1000 is stamped in µs.
_MIN_RATE_HZ, _MAX_RATE_HZ = 10.0, 5000.0


def _check_time_units(path: Path, t: np.ndarray, duration_ms: float | None, tol_ms: float) -> None:
    """Raise ``imu_timestamp_units`` for timestamps in microseconds (the columns promise milliseconds).

    Such a file would otherwise lose all but its first ~1/1000 to the range check and surface as
    ``imu_low_coverage``, hiding the defect.
    """
    if len(t) < 3:
        return
    d = np.diff(np.sort(t))
    d = d[d > 0]
    if not len(d):
        return
    spacing = float(np.median(d))
    rate_ms, rate_us = 1000.0 / spacing, 1e6 / spacing
    too_slow = rate_ms < _MIN_RATE_HZ <= rate_us <= _MAX_RATE_HZ
    span = None if duration_ms is None else duration_ms + tol_ms
    too_long = span is not None and t.max() > 100 * span and t.max() / 1000 <= 2 * span
    if too_slow or too_long:
        video = f", video {duration_ms:.0f} ms" if duration_ms is not None else ""
        raise ImuFileError(
            path,
            "imu_timestamp_units",
            f"timestamps look like microseconds, not milliseconds: median spacing {spacing:.0f} "
            f"({rate_ms:.2f} Hz as ms, {rate_us:.0f} Hz as µs), last {t.max():.0f}{video}",
        )


def _check_nan_channels(paths: Sequence[Path], values: np.ndarray, dataset: str) -> None:
    """Raise ``imu_nan`` when a channel holds no number at all (else it shows as low coverage)."""
    dead = [c for i, c in enumerate(IMU_CHANNELS) if np.isnan(values[:, i]).all()]
    if not dead:
        return
    path = paths[1] if dataset == "epic" and all(c.startswith("gyro") for c in dead) else paths[0]
    raise ImuFileError(path, "imu_nan", f"channels {', '.join(dead)} are NaN/empty in every row")


def _load_ego4d(
    path: Path, duration_ms: float | None, cfg: ImuWindowConfig, counts: Counter[str]
) -> tuple[np.ndarray, np.ndarray]:
    t, ch = _read_columns(path, EGO4D_IMU_HEADER, "canonical_timestamp_ms", counts)
    _check_time_units(path, t, duration_ms, cfg.range_tolerance_ms)
    values = np.stack([ch[c] for c in IMU_CHANNELS], axis=1)
    t, values = _drop_out_of_range(t, values, duration_ms, cfg.range_tolerance_ms, counts)
    return _sort_dedupe(t, values, counts)


def _epic_start_rule(
    path: Path, t: np.ndarray, values: np.ndarray, cfg: ImuWindowConfig, counts: Counter[str]
) -> tuple[np.ndarray, np.ndarray, float]:
    """Apply the configured rule for files whose first second is stamped negative (§2.6)."""
    if len(t) == 0 or t.min() >= 0:
        return t, values, 0.0
    if cfg.epic_negative_start == "shift" and abs(t.min() + 1000.0) <= cfg.epic_start_tolerance_ms:
        return t + 1000.0, values, 1000.0
    if cfg.epic_negative_start in ("shift", "drop"):
        neg = t < 0
        counts["negative_timestamp"] += int(neg.sum())
        return t[~neg], values[~neg], 0.0
    return t, values, 0.0


def _resample_onto(t_src: np.ndarray, v_src: np.ndarray, t_dst: np.ndarray, max_gap_ms: float) -> np.ndarray:
    """Linear interpolation of v_src (n, c) at t_dst (m,) -> (m, c); NaN outside the source span,
    where the two bracketing samples are more than max_gap_ms apart, or where one of them is NaN."""
    m, c = len(t_dst), v_src.shape[1]
    out = np.full((m, c), np.nan, dtype=np.float64)
    if len(t_src) == 0 or m == 0:
        return out
    if len(t_src) == 1:
        out[t_dst == t_src[0]] = v_src[0]
        return out
    i = np.clip(np.searchsorted(t_src, t_dst, side="right") - 1, 0, len(t_src) - 2)
    t0, dt = t_src[i], t_src[i + 1] - t_src[i]
    ok = (t_dst >= t_src[0]) & (t_dst <= t_src[-1]) & (dt <= max_gap_ms)
    frac = ((t_dst - t0) / dt)[:, None]
    interp = v_src[i] + (v_src[i + 1] - v_src[i]) * frac
    out[ok] = interp[ok]
    return out


def _load_epic(
    accl_path: Path,
    gyro_path: Path,
    duration_ms: float | None,
    cfg: ImuWindowConfig,
    counts: Counter[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Merge the two GoPro files onto the accelerometer's timestamps (the gyro is interpolated)."""
    parts = []
    shift = 0.0  # reported in qa
    for path, header in ((accl_path, EPIC_ACCL_HEADER), (gyro_path, EPIC_GYRO_HEADER)):
        t, ch = _read_columns(path, header, "Milliseconds", counts)
        _check_time_units(path, t, duration_ms, cfg.range_tolerance_ms)
        v = np.stack([ch[c] for c in header[1:]], axis=1)
        t, v = _sort_dedupe(t, v, counts)
        t, v, s = _epic_start_rule(path, t, v, cfg, counts)
        shift = max(shift, s)
        t, v = _drop_out_of_range(t, v, duration_ms, cfg.range_tolerance_ms, counts)
        if len(t) < 2:
            raise ImuFileError(path, "imu_empty", f"fewer than 2 usable rows ({_describe(counts)})")
        parts.append((t, v))
    (ta, va), (tg, vg) = parts
    skew = abs(ta[0] - tg[0])
    if skew > cfg.epic_max_start_skew_ms:
        raise ImuFileError(
            gyro_path,
            "imu_clock_skew",
            f"gyroscope starts at {tg[0]:.1f} ms, accelerometer ({accl_path.name}) at {ta[0]:.1f} ms: "
            f"{skew:.1f} ms apart (> {cfg.epic_max_start_skew_ms} ms)",
        )
    counts["time_shift_ms"] = int(shift)
    gyro_on_a = _resample_onto(tg, vg.astype(np.float64), ta, cfg.max_gap_ms)
    counts["gyro_unmatched_rows"] += int(np.isnan(gyro_on_a).any(axis=1).sum())
    return ta, np.concatenate([va, gyro_on_a], axis=1)


def _describe(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if v) or "no rows"


def _estimate_rate(t: np.ndarray) -> float:
    d = np.diff(t)
    d = d[d > 0]
    if len(d) == 0:
        return math.nan
    typical = float(np.median(d))
    regular = d[d <= 1.5 * typical]  # a dropped sample or a gap is not a slower rate
    return 1000.0 / float(regular.mean())


def _saturation_levels(values: np.ndarray, min_run: int) -> np.ndarray:
    """Per-channel min/max that the signal holds for min_run consecutive samples (clipping)."""
    levels = np.full((2, values.shape[1]), np.nan)
    for c in range(values.shape[1]):
        v = values[:, c]
        if np.isnan(v).all():
            continue
        for row, level in enumerate((np.nanmin(v), np.nanmax(v))):
            at = np.concatenate([[0], (v == level).astype(np.int8), [0]])
            edges = np.flatnonzero(np.diff(at))
            if len(edges) and (edges[1::2] - edges[::2]).max() >= min_run:
                levels[row, c] = level
    return levels


def load_imu_stream(
    dataset: str,
    imu_paths: Sequence[str],
    video_duration_sec: float | None = None,
    cfg: ImuWindowConfig | None = None,
) -> ImuStream:
    """Load and clean one video's IMU (Ego4D: one CSV; EPIC: [accl, gyro]) onto the video timeline.

    Rows that cannot be used are dropped and counted in ``dropped``; a file that cannot be used at
    all raises :class:`ImuFileError` with a quarantine reason (imu_missing, imu_bad_header,
    imu_empty, imu_unreadable, imu_clock_skew, imu_nan, imu_timestamp_units).
    """
    cfg = cfg or ImuWindowConfig()
    duration_ms = None if video_duration_sec is None else 1000.0 * float(video_duration_sec)
    counts: Counter[str] = Counter()
    paths = [Path(p) for p in imu_paths]
    if dataset == "ego4d":
        if len(paths) != 1:
            raise ValueError(f"Ego4D IMU is one CSV per video, got {list(imu_paths)}")
        t, values = _load_ego4d(paths[0], duration_ms, cfg, counts)
    elif dataset == "epic":
        if len(paths) != 2:
            raise ValueError(f"EPIC IMU is [<id>-accl.csv, <id>-gyro.csv], got {list(imu_paths)}")
        t, values = _load_epic(paths[0], paths[1], duration_ms, cfg, counts)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; expected 'ego4d' or 'epic'")
    if len(t) < 2:
        raise ImuFileError(paths[0], "imu_empty", f"fewer than 2 usable rows ({_describe(counts)})")
    _check_nan_channels(paths, values, dataset)
    values = values.astype(np.float32)
    gaps = np.diff(t)
    big = gaps > cfg.max_gap_ms
    span_ms = duration_ms if duration_ms else float(t[-1] - t[0])
    drop_keys = (
        "malformed_row",
        "null_timestamp",
        "bad_timestamp",
        "out_of_range",
        "negative_timestamp",
        "duplicate_timestamp",
    )
    qa = {k: float(v) for k, v in counts.items() if k not in drop_keys}
    qa.update(
        missing_value_rows=float(np.isnan(values).any(axis=1).sum()),
        gaps=float(big.sum()),
        gap_ms_total=float(gaps[big].sum()),
        coverage_of_video=float(min(1.0, (t[-1] - max(t[0], 0.0) - gaps[big].sum()) / span_ms))
        if span_ms > 0
        else 0.0,
    )
    return ImuStream(
        t_ms=t.astype(np.float64),
        values=values,
        rate_hz=_estimate_rate(t),
        units=UNITS[dataset],
        source_files=tuple(str(p) for p in paths),
        dropped={k: int(counts[k]) for k in drop_keys if counts[k]},
        qa=qa,
        saturation=_saturation_levels(values, cfg.saturation_min_run),
    )


# ----------------------------------------------------------------------------------------------
# windows


def extract_window(stream: ImuStream, start_sec: float, cfg: ImuWindowConfig) -> ImuWindow:
    """The fixed window of cfg.num_samples samples at cfg.rate_hz starting at start_sec.

    Samples are linearly interpolated from the two bracketing source samples, and marked invalid
    (mask False, value 0) where those are more than cfg.max_gap_ms apart, outside the stream, or
    missing a channel.
    """
    period = 1000.0 / cfg.rate_hz
    t_dst = 1000.0 * start_sec + period * np.arange(cfg.num_samples)
    lo = max(0, int(np.searchsorted(stream.t_ms, t_dst[0], side="right")) - 1)
    hi = min(len(stream.t_ms), int(np.searchsorted(stream.t_ms, t_dst[-1], side="left")) + 1)
    t_src, v_src = stream.t_ms[lo:hi], stream.values[lo:hi].astype(np.float64)
    interp = _resample_onto(t_src, v_src, t_dst, cfg.max_gap_ms)
    mask = np.isfinite(interp).all(axis=1)
    samples = np.zeros((cfg.num_samples, len(IMU_CHANNELS)), dtype=np.float32)
    if mask.any():
        good = interp[mask]
        if cfg.subtract_mean:
            good = good - good.mean(axis=0)
        samples[mask] = good.astype(np.float32)

    inside = (t_src >= t_dst[0]) & (t_src <= t_dst[-1])
    complete = np.isfinite(v_src).all(axis=1)
    points = np.concatenate([[t_dst[0]], t_src[inside & complete], [t_dst[-1]]])
    max_gap = float(np.diff(points).max())
    v_in = v_src[inside]
    sat = stream.saturation
    clipped = int(((v_in == sat[0]) | (v_in == sat[1])).sum())
    return ImuWindow(
        samples=samples,
        mask=mask,
        coverage=float(mask.mean()),
        max_gap_ms=max_gap,
        clipped=clipped,
        rate_hz=float(stream.rate_hz),
    )


def clip_imu_window(row: Mapping, cfg: ImuWindowConfig, stream: ImuStream | None = None) -> ImuWindow:
    """Window for a manifest row (dataset, imu_paths, window_start_sec); pass a cached stream to
    parse each video's IMU once."""
    if stream is None:
        stream = load_imu_stream(row["dataset"], list(row["imu_paths"]), row.get("video_duration_sec"), cfg)
    return extract_window(stream, float(row["window_start_sec"]), cfg)
