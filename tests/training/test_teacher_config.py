"""The teacher job's config: presets, precedence of the sources, clear errors."""

from __future__ import annotations

import argparse

import pytest

from egodistill.config import ConfigError
from egodistill.teacher import cli as teacher_cli
from egodistill.teacher.config import PRESETS, TeacherJobConfig


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    teacher_cli.add_arguments(p)
    return p.parse_args(list(argv))


def test_defaults_are_the_papers_finetuning_recipe():
    cfg = TeacherJobConfig()
    assert (cfg.optim.epochs, cfg.optim.lr, cfg.optim.batch_size) == (50, 1e-4, 64)
    assert cfg.teacher.name == "mvit_v2_s" and cfg.teacher.num_frames is None  # 16 x 4 from the input spec


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_is_a_valid_config(preset):
    cfg = teacher_cli.load_teacher_config(_args("--manifest", "m.parquet", "--preset", preset))
    assert cfg.data.manifest == "m.parquet"


def test_sources_apply_preset_then_file_then_flags_then_set(tmp_path):
    f = tmp_path / "teacher.yaml"
    f.write_text("optim:\n  epochs: 7\n  lr: 0.5\nteacher:\n  tiny_width: 4\n")
    cfg = teacher_cli.load_teacher_config(
        _args(
            "--clips", "c", "--preset", "demo", "--config", str(f), "--epochs", "9", "--set", "optim.lr=0.25"
        )
    )
    assert cfg.teacher.name == "tiny3d"  # preset
    assert cfg.teacher.tiny_width == 4  # file over preset
    assert cfg.optim.epochs == 9  # flag over file
    assert cfg.optim.lr == 0.25  # --set over file
    assert cfg.optim.batch_size == PRESETS["demo"]["optim"]["batch_size"]
    assert cfg.require_data() == ("clips", "c")


def test_bad_configs_fail_with_the_field_named():
    with pytest.raises(ConfigError, match="--manifest or --clips"):
        teacher_cli.load_teacher_config(_args())
    with pytest.raises(ConfigError, match="optim.epohcs"):
        teacher_cli.load_teacher_config(_args("--manifest", "m", "--set", "optim.epohcs=3"))
    with pytest.raises(ConfigError, match="not both"):
        teacher_cli.load_teacher_config(_args("--manifest", "m", "--clips", "c"))
    with pytest.raises(ConfigError, match="scale"):
        teacher_cli.load_teacher_config(_args("--manifest", "m", "--set", "augment.scale=[0.9,0.2]"))


def test_a_changed_model_trains_a_new_run_instead_of_resuming_the_old_checkpoint():
    """The Ray Train run name carries a hash of what shapes the weights (issue: a re-run with another
    width used to resume the old checkpoint and die with a state_dict size mismatch)."""
    from egodistill.teacher import classifiers
    from egodistill.teacher.job import weights_hash

    def run_hash(**teacher) -> str:
        cfg = TeacherJobConfig.model_validate({**PRESETS["smoke"], "teacher": {**PRESETS["smoke"]["teacher"], **teacher}})
        return weights_hash(cfg, classifiers.teacher_spec(cfg.teacher.model_copy(update={"num_classes": 5})))

    base = run_hash()
    assert run_hash() == base  # the same job resumes its run
    assert run_hash(tiny_width=16) != base  # a wider model starts afresh
    assert run_hash(crop_size=48) != base
    same = TeacherJobConfig.model_validate({**PRESETS["smoke"], "tracking": {"enabled": False}})
    spec = classifiers.teacher_spec(same.teacher.model_copy(update={"num_classes": 5}))
    assert weights_hash(same, spec) == base  # tracking does not shape the weights
