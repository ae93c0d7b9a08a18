"""`egodistill index`: options, output files, printed summary, exit codes."""

from __future__ import annotations

import argparse

import pytest
from dsfakes import clean_ego4d, clean_epic

from egodistill.config import ConfigError
from egodistill.datasets import cli
from egodistill.datasets.manifest import read_manifest
from egodistill.storage import read_table
from egodistill.tables import validate


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(list(argv)))


def test_index_epic_with_separate_annotations_folder(tmp_path, capsys):
    data = clean_epic(tmp_path / "data")
    ann = tmp_path / "ann"
    ann.mkdir()
    for f in data.glob("EPIC_100_*.csv"):
        f.rename(ann / f.name)
    (data / "P01" / "videos" / "P01_102.MP4").unlink()
    out = tmp_path / "out" / "epic.parquet"
    assert _run("--dataset", "epic", "--root", str(data), "--out", str(out), "--annotations", str(ann)) == 0
    manifest = read_manifest(str(out))
    quarantine = read_table(str(tmp_path / "out" / "epic.quarantine.parquet"))
    validate(quarantine, "quarantine")
    assert manifest.num_rows == 8 and quarantine.num_rows == 4
    assert set(quarantine.column("reason").to_pylist()) == {"video_missing"}
    text = capsys.readouterr().out
    assert "rows read: 12; clips kept: 8; quarantined: 4" in text
    assert "clips per class and split (3 classes)" in text and "train" in text and "val" in text
    assert "IMU coverage of kept windows: mean 1.000" in text
    assert "video_missing" in text and "(defect)" in text


def test_index_ego4d_with_overrides(tmp_path, capsys):
    root = clean_ego4d(tmp_path / "ego")
    out = tmp_path / "ego.parquet"
    code = _run(
        "--dataset",
        "ego4d",
        "--root",
        str(root),
        "--out",
        str(out),
        "--set",
        "split.rule=by_video",
        "--set",
        "split.val_fraction=0.5",
    )
    assert code == 0
    m = read_manifest(str(out))
    assert m.num_rows == 10 and set(m.column("split").to_pylist()) == {"train", "val"}
    assert b"rule: by_video" in m.schema.metadata[b"egodistill.index_config"]
    assert (tmp_path / "ego.quarantine.parquet").is_file()


def test_structural_error_exits_1_and_names_the_file(tmp_path, capsys):
    root = clean_epic(tmp_path / "data")
    (root / "EPIC_100_validation.csv").unlink()
    assert _run("--dataset", "epic", "--root", str(root), "--out", str(tmp_path / "m.parquet")) == 1
    err = capsys.readouterr().err
    assert "EPIC_100_validation.csv" in err and "not found" in err
    assert not (tmp_path / "m.parquet").exists()


def test_bad_option_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="min_class_instances"):
        _run(
            "--dataset",
            "epic",
            "--root",
            str(tmp_path),
            "--out",
            str(tmp_path / "m.parquet"),
            "--set",
            "min_class_instances=0",
        )
    with pytest.raises(ConfigError, match="split_fho"):
        _run(
            "--dataset",
            "epic",
            "--root",
            str(tmp_path),
            "--out",
            str(tmp_path / "m.parquet"),
            "--set",
            "split.rule=split_fho",
        )
