from __future__ import annotations

import pytest

from egodistill.config import ConfigError, StrictConfig, dump_config, load_config


class Inner(StrictConfig):
    lr: float = 1e-4
    epochs: int = 50


class Outer(StrictConfig):
    name: str = "run"
    train: Inner = Inner()


def test_defaults_file_values_and_overrides_layer_in_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: from-file\ntrain:\n  epochs: 3\n")
    cfg = load_config(Outer, path, overrides=["train.lr=0.01"], name="from-kwargs")
    assert cfg.name == "from-kwargs"
    assert cfg.train.epochs == 3
    assert cfg.train.lr == pytest.approx(0.01)


def test_unknown_key_is_named_in_the_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lrr: 1\n")
    with pytest.raises(ConfigError, match=r"train\.lrr") as exc:
        load_config(Outer, path)
    assert str(path) in str(exc.value)


def test_wrong_type_and_bad_override_are_clear():
    with pytest.raises(ConfigError, match=r"train\.epochs"):
        load_config(Outer, overrides=["train.epochs=many"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(Outer, overrides=["train.epochs"])


def test_missing_file_and_non_mapping_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(Outer, bad)


def test_dump_round_trips(tmp_path):
    cfg = load_config(Outer, overrides=["train.epochs=7"])
    path = tmp_path / "dump.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(Outer, path) == cfg


def test_preset_base_and_dotted_flags_layer_under_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 0.5\n")
    base = {"name": "preset", "train": {"epochs": 9, "lr": 0.1}}
    cfg = load_config(Outer, path, ["train.lr=0.25"], base=base, dotted={"train.epochs": 4, "name": None})
    assert cfg.name == "preset"  # None flags are skipped
    assert cfg.train.epochs == 4  # flag over preset
    assert cfg.train.lr == pytest.approx(0.25)  # override over file over preset
    assert base == {"name": "preset", "train": {"epochs": 9, "lr": 0.1}}  # preset untouched
