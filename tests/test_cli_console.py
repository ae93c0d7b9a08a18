"""The command line's console contract: every --help works, `config show` lists keys with defaults,
config errors name the key's source and the closest key, unexpected errors are one line + a traceback file."""

from __future__ import annotations

import argparse

import pytest

from egodistill import cli, configshow
from egodistill.config import ConfigError, load_config


def _subcommands() -> list[str]:
    return list(cli.SUBCOMMANDS)


def test_top_level_help_exits_0(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    assert "config" in capsys.readouterr().out


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_help_exits_0(command, capsys):
    """argparse %-formats help strings: a bare % in one crashes --help (it did, once)."""
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    if command in configshow.JOBS:
        assert f"egodistill config show {command}" in " ".join(out.split())


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_that_takes_set_is_in_config_show(command, capsys):
    """A job whose keys ``--set`` takes must let ``config show`` list them (pretrain-image once did not)."""
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    if "--set KEY=VALUE" in capsys.readouterr().out and command != "config":
        assert command in configshow.JOBS


def test_job_help_names_its_default_preset(capsys):
    with pytest.raises(SystemExit):
        cli.main(["distill", "--help"])
    assert "Default preset: paper" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("job", list(configshow.JOBS))
def test_config_show_lists_every_key_with_its_default(job):
    text = configshow.show(job)
    assert text.startswith(f"# {job}:")
    cls = configshow.JOBS[job].load_cls()
    keys = {line.split(" = ", 1)[0] for line in text.splitlines()[2:]}
    assert set(cls.model_fields) <= {k.split(".")[0] for k in keys}


def test_config_show_resolves_preset_and_set_and_marks_defaults(capsys):
    assert cli.main(["config", "show", "teacher", "--preset", "smoke", "--set", "optim.epochs=3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    epochs = next(line for line in lines if line.startswith("optim.epochs = "))
    assert epochs.startswith(
        "optim.epochs = 3   [default 50]"
    )  # the teacher recipe's default, not the students'
    name = next(line for line in lines if line.startswith("teacher.name = "))
    assert "tiny3d" in name and "[default mvit_v2_s]" in name
    assert any("# outputs: checkpoints/" in line for line in lines)  # descriptions


def test_config_show_unknown_preset_lists_the_presets(capsys):
    assert cli.main(["config", "show", "teacher", "--preset", "nope"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "paper, demo, bench, smoke" in err


def test_set_typo_says_did_you_mean_and_names_the_source():
    from egodistill.teacher.config import PRESETS, TeacherJobConfig

    with pytest.raises(ConfigError) as e:
        load_config(
            TeacherJobConfig, None, ["optim.epoch=3"], base=PRESETS["smoke"], base_name="preset smoke"
        )
    msg = str(e.value)
    assert len(msg.splitlines()) == 1
    assert "'optim.epoch'" in msg and "--set optim.epoch=3" in msg and "did you mean 'optim.epochs'" in msg


def test_bad_value_names_the_source_flag_and_choices():
    from egodistill.teacher.config import PRESETS, TeacherJobConfig

    with pytest.raises(ConfigError) as e:
        load_config(TeacherJobConfig, base=PRESETS["smoke"], dotted={"teacher.name": "resnet"})
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and "a command-line flag" in msg and "tiny3d" in msg


def test_unexpected_error_is_one_line_and_writes_the_traceback(tmp_path, capsys, monkeypatch):
    def boom(args: argparse.Namespace) -> int:
        raise RuntimeError("the disk fell off\nsecond line")

    monkeypatch.setattr(cli, "build_parser", _parser_with(boom))
    assert cli.main(["boom", "--workspace", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "RuntimeError: the disk fell off" in err[0]
    logs = list((tmp_path / "logs").glob("egodistill-*.log"))
    assert len(logs) == 1 and str(logs[0]) in err[0]
    text = logs[0].read_text()
    assert "Traceback (most recent call last)" in text and "in boom" in text


def test_verbose_prints_the_traceback(tmp_path, capsys, monkeypatch):
    def boom(args: argparse.Namespace) -> int:
        raise RuntimeError("kaput")

    monkeypatch.setattr(cli, "build_parser", _parser_with(boom))
    monkeypatch.setenv("EGODISTILL_VERBOSE", "0")
    assert cli.main(["-v", "boom", "--workspace", str(tmp_path)]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    monkeypatch.setenv("EGODISTILL_VERBOSE", "0")


def _parser_with(run):
    def build() -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(prog="egodistill")
        p.add_argument("-v", "--verbose", action="store_true")
        sub = p.add_subparsers(dest="command", required=True)
        b = sub.add_parser("boom")
        b.add_argument("--workspace")
        b.set_defaults(_run=run)
        return p

    return build
