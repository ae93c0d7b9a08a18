"""``egodistill config show JOB [--preset P] [--config FILE] [--set K=V ...]``: every config key of a job.

``--help`` lists a job's flags, not the keys ``--set`` takes; this prints the resolved config (preset <
file < ``--set``, exactly as the job would load it) with every key, its value, its class default and
its description, walking the pydantic models recursively. Nothing is run and Ray is not started.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from egodistill.config import StrictConfig, load_config, submodel

HELP = "print a job's resolved config: every key, its value, default and description (no run)"


@dataclass(frozen=True)
class JobConfig:
    """Where a job's config class and presets live (imported only when shown)."""

    cls: str  # "module:Class"
    presets: tuple[str, ...] = ()
    default_preset: str | None = None
    preset_values: Callable[[str], dict[str, Any]] | None = None

    def load_cls(self) -> type[StrictConfig]:
        module, _, name = self.cls.partition(":")
        return getattr(importlib.import_module(module), name)


def _dict_preset(module: str, name: str = "PRESETS") -> Callable[[str], dict[str, Any]]:
    return lambda preset: dict(getattr(importlib.import_module(module), name)[preset])


def _job_preset(module: str, kind: str) -> Callable[[str], dict[str, Any]]:
    return lambda preset: importlib.import_module(module).job_preset(kind, preset)


def _sweep_preset(preset: str) -> dict[str, Any]:
    from egodistill.tuning.config import preset_values

    return preset_values(preset)


_PAPER = ("paper", "demo", "bench", "smoke")
_EGO = "egodistill.methods.egodistill.config"
JOBS: dict[str, JobConfig] = {
    "synth": JobConfig("egodistill.synthetic.config:SynthConfig"),
    "index": JobConfig("egodistill.datasets.config:IndexConfig"),
    "ingest": JobConfig("egodistill.ingest.config:IngestConfig"),
    "teacher": JobConfig(
        "egodistill.teacher.config:TeacherJobConfig",
        _PAPER,
        "paper",
        _dict_preset("egodistill.teacher.config"),
    ),  # fmt: skip
    "features": JobConfig("egodistill.features.config:FeaturesConfig"),
    "student-inputs": JobConfig("egodistill.student.products:StudentInputsConfig"),
    "pretrain-image": JobConfig(
        "egodistill.pretraining.config:PretrainImageConfig",
        ("demo", "bench", "smoke"),
        "demo",
        _dict_preset("egodistill.pretraining.config"),
    ),  # fmt: skip
    "pretrain": JobConfig(f"{_EGO}:PretrainJobConfig", _PAPER, "paper", _job_preset(_EGO, "pretrain")),
    "distill": JobConfig(f"{_EGO}:DistillJobConfig", _PAPER, "paper", _job_preset(_EGO, "distill")),
    "experiment": JobConfig(
        "egodistill.methods.egodistill.experiment:ExperimentConfig",
        _PAPER,
        "paper",
        _job_preset(_EGO, "experiment"),
    ),  # fmt: skip
    "correspondence": JobConfig(
        "egodistill.methods.correspondence.config:CorrespondenceJobConfig",
        ("paper", "demo", "smoke"),
        "paper",
        _job_preset("egodistill.methods.correspondence.config", "ssl"),
    ),  # fmt: skip
    "multimodal": JobConfig(
        "egodistill.methods.multimodal.config:MultimodalJobConfig",
        ("paper", "demo", "smoke"),
        "paper",
        _job_preset("egodistill.methods.multimodal.config", "multimodal"),
    ),  # fmt: skip
    "sweep": JobConfig(
        "egodistill.tuning.config:SweepConfig", ("paper", "demo", "test"), "demo", _sweep_preset
    ),
    "predict": JobConfig("egodistill.inference.config:PredictConfig"),
    "retrieve": JobConfig("egodistill.inference.config:RetrieveConfig"),
    "reproduce": JobConfig(
        "egodistill.benchmark.reproduce:ReproduceConfig",
        ("bench", "smoke"),
        "bench",
        _dict_preset("egodistill.benchmark.reproduce"),
    ),  # fmt: skip
    "demo": JobConfig("egodistill.demo:DemoConfig"),
}


def help_note(job: str) -> str:
    """The line each job's ``--help`` ends with: where its keys are listed and its default preset."""
    spec = JOBS.get(job)
    if spec is None:
        return ""
    preset = f" Default preset: {spec.default_preset}." if spec.default_preset else ""
    return f"Every config key (--set KEY=VALUE), its default and description: egodistill config show {job}.{preset}"


@dataclass(frozen=True)
class KeyRow:
    key: str
    value: Any
    default: Any
    description: str


def _defaults(cls: type[BaseModel]) -> BaseModel:
    """The class's defaults (no validation: a required key stays unset and shows as required)."""
    return cls.model_construct()


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def rows(
    cls: type[BaseModel], value: BaseModel | None, default: BaseModel | None = None, prefix: str = ""
) -> Iterator[KeyRow]:
    """Every leaf key under ``cls`` (nested configs recursed), with ``value``'s setting and its default.

    A nested section's defaults are those of its parent's default (``optim.epochs`` of the teacher
    is the teacher recipe's 50, not the students' optimiser default).
    """
    default = default if default is not None else _defaults(cls)
    for name, field in cls.model_fields.items():
        key = f"{prefix}{name}"
        current = getattr(value, name, None) if value is not None else None
        base = getattr(default, name, "(required)")
        nested = submodel(field.annotation)
        description = " ".join((field.description or "").split())
        if nested is not None and (isinstance(current, BaseModel) or isinstance(base, BaseModel)):
            if current is None or base is None:  # an optional section: say which side leaves it unset
                yield KeyRow(key, _plain(current), _plain(base), description)
            yield from rows(
                nested, current, base if isinstance(base, BaseModel) else _defaults(nested), f"{key}."
            )
            continue
        yield KeyRow(key, _plain(current), _plain(base), description)


def _placeholder(annotation: Any) -> Any:
    """A value a required key validates with, so its siblings can be shown (``(required)`` is shown)."""
    import typing

    choices = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
    return choices[0] if choices else "(required)"


def _fmt(value: Any) -> str:
    import json

    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except TypeError:
        return repr(value)


def show(
    job: str, preset: str | None = None, path: str | None = None, overrides: list[str] | None = None
) -> str:
    """The text ``config show`` prints (ConfigError for an unknown job, preset or key)."""
    from egodistill.config import ConfigError

    spec = JOBS.get(job)
    if spec is None:
        raise ConfigError(f"no config for job {job!r}; jobs with a config: {', '.join(JOBS)}")
    preset = preset or spec.default_preset
    if preset is not None and preset not in spec.presets:
        have = ", ".join(spec.presets) or "none"
        raise ConfigError(f"job {job} has no preset {preset!r} (presets: {have})")
    base = spec.preset_values(preset) if preset and spec.preset_values else None
    cls = spec.load_cls()
    required = {name: _placeholder(f.annotation) for name, f in cls.model_fields.items() if f.is_required()}
    given = {o.split("=", 1)[0] for o in overrides or []}
    placeholders = {k: v for k, v in required.items() if k not in given and k not in (base or {})}
    cfg = load_config(
        cls, path, overrides, base={**placeholders, **(base or {})}, base_name=f"preset {preset}"
    )
    if placeholders:  # shown as required, not as the stand-in value that let the config validate
        cfg = cfg.model_copy(update={k: "(required)" for k in placeholders})
    head = f"# {job}: {cls.__name__}" + (
        f", preset {preset} (presets: {', '.join(spec.presets)})" if preset else ""
    )
    out = [head, "# key = value   [default, when the value differs]   # description"]
    for row in rows(cls, cfg):
        line = f"{row.key} = {_fmt(row.value)}"
        if row.value != row.default:
            line += f"   [default {_fmt(row.default)}]"
        if row.description:
            line += f"   # {row.description}"
        out.append(line)
    return "\n".join(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("show", help="print JOB's resolved config", description=HELP)
    p.add_argument("job", choices=list(JOBS), metavar="JOB", help=f"one of: {', '.join(JOBS)}")
    p.add_argument("--preset", help="the job's preset (default: the job's own default)")
    p.add_argument("--config", help="YAML/JSON file of config values, as the job takes it")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one value (repeatable), as the job takes it")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    print(show(args.job, args.preset, args.config, args.overrides))
    return 0


__all__ = ["JOBS", "KeyRow", "help_note", "rows", "show"]
