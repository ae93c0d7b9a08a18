"""Typed configs shared by the CLI and the jobs.

Every job config is a pydantic model that forbids unknown keys, so a typo in a YAML file or a
``--set`` override fails loudly with the offending key named, instead of being ignored.
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

C = TypeVar("C", bound="StrictConfig")


class ConfigError(ValueError):
    """A config file or override is wrong; the message names the source and the field."""


class StrictConfig(BaseModel):
    """Base for all configs: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid config ({source}):"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"  {where}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def add_config_arguments(parser: argparse.ArgumentParser, config_name: str, example: str) -> None:
    """The ``--config FILE`` and repeatable ``--set KEY=VALUE`` options every job shares."""
    parser.add_argument("--config", help=f"YAML/JSON file with {config_name} values")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override one config value, e.g. {example} (repeatable; later wins)",
    )


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b=value``; the value is read as YAML so numbers, bools and lists work."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value (e.g. train.lr=1e-4)")
    key, raw = text.split("=", 1)
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    return key.split("."), yaml.safe_load(raw) if raw != "" else ""


def apply_dotted(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override path {'.'.join(path)!r} goes through a non-mapping value")
    node[path[-1]] = value


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, recursing into mappings present in both (neither is modified)."""
    out = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(
    cls: type[C],
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    base: Mapping[str, Any] | None = None,
    dotted: Mapping[str, Any] | None = None,
    **values: Any,
) -> C:
    """Build ``cls`` from layered sources; later ones win, ``None`` values are skipped.

    ``base`` (a preset) < the YAML/JSON file at ``path`` < top-level keyword ``values`` <
    ``dotted`` values such as ``{"optim.epochs": 3}`` (CLI flags) < ``key=value`` ``overrides``.
    """
    data: dict[str, Any] = copy.deepcopy(dict(base or {}))
    source = "defaults" if base is None else "preset"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        text = p.read_text()
        try:
            loaded = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as e:
            raise ConfigError(f"config file {p} is not valid YAML/JSON: {e}") from e
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must hold a mapping at the top level")
        data = deep_merge(data, loaded)
        source = str(p)
    data.update({k: v for k, v in values.items() if v is not None})
    for key, value in (dotted or {}).items():
        if value is not None:
            apply_dotted(data, key.split("."), value)
    for text in overrides or []:
        key, value = parse_override(text)
        apply_dotted(data, key, value)
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e, source)) from None


def dump_config(cfg: StrictConfig, exclude: set[str] | None = None) -> str:
    """YAML text of a config, for logging and for re-running a job exactly (less ``exclude``)."""
    return yaml.safe_dump(cfg.model_dump(mode="json", exclude=exclude), sort_keys=False)
