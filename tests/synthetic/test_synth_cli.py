"""The `synth` subcommand, config validation and atomic writing."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from egodistill.config import ConfigError
from egodistill.synthetic import cli
from egodistill.synthetic.video_io import VideoWriter


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_writes_a_dataset_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "d"
    args = _parse(
        ["--layout", "epic", "--out", str(out), "--videos", "1", "--seconds", "6", "--seed", "3",
         "--width", "32", "--height", "24", "--no-audio", "--workers", "1", "--set", "participants=2"]
    )  # fmt: skip
    assert cli.run(args) == 0
    text = capsys.readouterr().out
    assert "videos: 1" in text and "video-s per wall-s" in text and "segments per verb" in text
    assert (out / "P01" / "videos" / "P01_101.MP4").is_file()
    assert (out / "EPIC_100_train.csv").is_file() and (out / "synthetic_ground_truth.json").is_file()


def test_cli_rejects_bad_values_with_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="even"):
        cli.run(_parse(["--out", str(tmp_path), "--width", "33"]))
    with pytest.raises(ConfigError, match="motion_correlation"):
        cli.run(_parse(["--out", str(tmp_path), "--motion-correlation", "1.5"]))


def test_video_writer_leaves_nothing_when_interrupted(tmp_path):
    target = tmp_path / "v.mp4"
    with pytest.raises(RuntimeError), VideoWriter(target, 30.0, 32, 24) as w:
        w.write(np.zeros((24, 32, 3), np.uint8))
        raise RuntimeError("crash mid-video")
    assert list(tmp_path.iterdir()) == []
