"""The progress reporter every long stage uses: counts, rate and ETA as plain lines off a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from egodistill.progress import Progress, duration


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_carry_counts_rate_and_eta():
    out, clock = io.StringIO(), Clock()
    p = Progress("ingest ego4d", 10, "videos", every_s=5.0, stream=out, plain=True, clock=clock)
    for _ in range(4):
        clock.t += 2.0
        p.update()
    p.close()
    lines = out.getvalue().splitlines()
    # the first update prints, then at most one line per 5 s, then the final line
    assert lines[0] == "ingest ego4d: 1/10 videos (10%), 0.50 videos/s, ETA 18 s"
    assert lines[1] == "ingest ego4d: 4/10 videos (40%), 0.50 videos/s, ETA 12 s"
    assert lines[-1] == "ingest ego4d: done 4 videos in 8 s (0.50 videos/s)"
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_plain_is_the_default_off_a_terminal_and_the_last_unit_always_prints():
    out, clock = io.StringIO(), Clock()
    p = Progress("features", 3, "clips", every_s=100.0, stream=out, clock=clock)
    for _ in range(3):
        clock.t += 1.0
        p.update(extra="x")
    assert out.getvalue().splitlines() == [
        "features: 1/3 clips (33%), 1.00 clips/s, ETA 2 s; x",
        "features: 3/3 clips (100%), 1.00 clips/s, ETA 0 s; x",
    ]


def test_duration_is_short():
    assert [duration(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 05 s", "1 h 02 min"]


def test_quiet_ray_logs_silences_train_reports_unless_verbose():
    import logging

    from ray.train.v2._internal.execution import context as train_context

    from egodistill.runtime import quiet_ray_logs

    logger = logging.getLogger(train_context.__file__)  # where Ray Train logs TrainingReport(...)
    try:
        quiet_ray_logs(True)
        assert not logger.isEnabledFor(logging.INFO)
        quiet_ray_logs(False)
        assert logger.isEnabledFor(logging.INFO) or logging.getLogger().level > logging.INFO
    finally:
        quiet_ray_logs()  # back to this session's setting (quiet unless -v)


def test_a_plain_reporter_pickles():
    """Tune pickles its callbacks (the sweep's per-trial progress line)."""
    import pickle

    p = Progress("sweep s", 8, "trials", plain=True)
    p.update()
    assert pickle.loads(pickle.dumps(p)).done == 1


def test_quiet_mode_points_ray_data_at_a_warning_level_console(monkeypatch):
    """Ray Data's per-dataset INFO lines come from worker processes: only its logging-config variable
    reaches them. Quiet sets it (unless the user has one), verbose takes ours away."""
    import json
    import os

    from egodistill import runtime

    monkeypatch.delenv(runtime.DATA_LOGGING_ENV, raising=False)
    monkeypatch.setenv(runtime.VERBOSE_ENV, "0")
    runtime.set_verbose(False)
    path = os.environ[runtime.DATA_LOGGING_ENV]
    config = json.loads(Path(path).read_text())
    assert config["handlers"]["console"]["level"] == "WARNING"
    assert config["loggers"]["ray.data"]["handlers"] == ["file", "console"]  # the file log stays whole
    runtime.set_verbose(True)
    assert runtime.DATA_LOGGING_ENV not in os.environ
    monkeypatch.setenv(runtime.DATA_LOGGING_ENV, "/users/own.yaml")
    runtime.set_verbose(False)
    assert os.environ[runtime.DATA_LOGGING_ENV] == "/users/own.yaml"
    runtime.set_verbose(True)
    assert os.environ[runtime.DATA_LOGGING_ENV] == "/users/own.yaml"
