"""Checks ``egodistill ingest`` makes before Ray starts: the manifest exists and is one, and ``--out``
does not hold clips written with other frame/IMU settings (both used to surface a minute in, after
``ray.init()``). Each failure is one :class:`~egodistill.config.ConfigError` line naming the file and
the command that fixes it.
"""

from __future__ import annotations

from egodistill.config import ConfigError
from egodistill.datasets.imu import ImuWindowConfig
from egodistill.ingest import store
from egodistill.ingest.config import IngestConfig, fingerprint
from egodistill.ingest.pipeline import load_manifest
from egodistill.storage import exists
from egodistill.tables import SchemaError


def check_ingest(cfg: IngestConfig) -> str | None:
    """The config fingerprint this run writes with (None: left to the run); ConfigError when it could only fail."""
    manifest_uri, out = cfg.require_paths()
    if not exists(manifest_uri):
        raise ConfigError(
            f"manifest not found: {manifest_uri}; build it with `egodistill index --dataset ego4d|epic "
            f"--root <dataset folder> --out {manifest_uri}`"
        )
    try:
        _, index_imu = load_manifest(manifest_uri)
    except (SchemaError, ValueError):
        return None  # not a usable manifest: the run reports it (one line, exit 1, its MLflow run FAILED)
    imu = cfg.imu or index_imu or ImuWindowConfig()
    min_cov = cfg.min_imu_coverage if cfg.min_imu_coverage is not None else imu.min_coverage
    fp = fingerprint(cfg.frames, imu, min_cov)
    try:
        store.scan_output(out, fp)  # reads file footers only; heals nothing
    except store.FingerprintMismatch as e:
        raise ConfigError(str(e).splitlines()[0]) from None
    except (store.IngestOutputError, FileNotFoundError):
        pass  # a new --out, or damage the run heals (moving the file aside)
    return fp


__all__ = ["check_ingest"]
