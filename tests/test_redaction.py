"""Issue 17: credentials in URIs never reach printed text, log lines or MLflow params/tags."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from egodistill.redact import RedactingFilter, redact, redact_value
from egodistill.tracking import TrackingConfig, flatten, start_run

SECRET = "hunter2-pw"
URI = f"http://alice:{SECRET}@mlflow.internal:5000/"
PLATFORM = Path(__file__).resolve().parents[1] / "platform"


@pytest.mark.parametrize(
    "text,expected",
    [
        (URI, "http://alice:***@mlflow.internal:5000/"),
        (f"s3://KEY:{SECRET}@bucket/clips", "s3://KEY:***@bucket/clips"),
        (
            f"failed: HTTPConnectionPool for url {URI}api/2.0",
            "failed: HTTPConnectionPool for url http://alice:***@mlflow.internal:5000/api/2.0",
        ),
        (f"https://h/x?token={SECRET}&a=1", "https://h/x?token=***&a=1"),
        ("sqlite:////ws/mlflow.db", "sqlite:////ws/mlflow.db"),
        ("http://host:5000/path", "http://host:5000/path"),
    ],
)
def test_redact_masks_userinfo_passwords_and_token_queries(text, expected):
    assert redact(text) == expected


def test_flattened_params_and_nested_values_are_redacted():
    cfg = TrackingConfig(tracking_uri=URI, tags={"origin": URI})
    flat = flatten({"tracking": cfg, "outs": [URI]})
    assert SECRET not in repr(flat) and flat["tracking.tracking_uri"] == redact(URI)
    assert SECRET not in repr(redact_value({"a": [URI, (URI,)]}))


def test_log_records_are_redacted_by_the_filter(caplog):
    logger = logging.getLogger("egodistill.test_redaction")
    caplog.handler.addFilter(RedactingFilter())
    try:
        logger.warning("store %s unreachable: %s", URI, ConnectionError(f"refused {URI}"))
        logger.info(f"inline {URI}")
        try:
            raise RuntimeError(f"boom at {URI}")
        except RuntimeError:
            logger.exception("with traceback")
    finally:
        caplog.handler.filters.clear()
    assert SECRET not in caplog.text and "alice:***@" in caplog.text


def test_mlflow_params_and_tags_never_hold_the_password(tmp_path):
    from mlflow.tracking import MlflowClient

    cfg = TrackingConfig(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", tags={"source": URI})
    params = {"tracking": {"tracking_uri": URI}, "out": f"s3://KEY:{SECRET}@bucket/clips"}
    ref = start_run(cfg, workspace=tmp_path, job="redaction", params=params, tags={"uri": URI})
    run = MlflowClient(ref.tracking_uri).get_run(ref.run_id)
    stored = repr(run.data.params) + repr(run.data.tags)
    assert SECRET not in stored and "alice:***@" in stored


def test_cli_warning_info_and_error_lines_hide_the_password(tmp_path):
    """The issue's case: tracking.tracking_uri=http://user:password@host/ on a stage that fails."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{PLATFORM}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "3",
    }
    argv = [
        "index",
        "--dataset",
        "ego4d",
        "--root",
        str(tmp_path / "nowhere"),
        "--out",
        str(tmp_path / "m.parquet"),
    ]
    argv += ["--set", f"tracking.tracking_uri=http://alice:{SECRET}@127.0.0.1:9/"]
    done = subprocess.run(
        [sys.executable, "-m", "egodistill.cli", "-v", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "127.0.0.1:9" in text and "alice:***@" in text  # the run was tried and the URI shown
    assert SECRET not in text
