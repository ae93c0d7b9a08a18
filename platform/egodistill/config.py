"""Typed configs shared by the CLI and the jobs.

Every job config is a pydantic model that forbids unknown keys, so a typo in a YAML file or a
``--set`` override fails loudly with the offending key named, instead of being ignored.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import types
import typing
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

    # the docstring under a field is its description (``config show``, ``--help``)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


def submodel(annotation: Any) -> type[BaseModel] | None:
    """The config class inside a field's annotation (``X``, ``X | None``, ``Optional[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = submodel(arg)
            if found is not None:
                return found
    return None


def model_at(cls: type[BaseModel], path: list[str]) -> type[BaseModel] | None:
    """The config class that holds the keys under ``path`` (``[]``: ``cls`` itself)."""
    node: type[BaseModel] | None = cls
    for part in path:
        field = node.model_fields.get(part) if node is not None else None
        node = submodel(field.annotation) if field is not None else None
    return node


def did_you_mean(cls: type[BaseModel], path: list[str]) -> str:
    """``; did you mean 'frames.count'?`` (difflib over the keys at that level), else the valid keys."""
    parent = model_at(cls, path[:-1])
    if parent is None:
        return ""
    keys = list(parent.model_fields)
    close = difflib.get_close_matches(path[-1], keys, n=1, cutoff=0.6)
    prefix = ".".join(path[:-1])
    if close:
        return f"; did you mean {'.'.join([*path[:-1], close[0]])!r}?"
    return f"; keys{' of ' + prefix if prefix else ''}: {', '.join(keys)}"


def _source_of(loc: tuple[Any, ...], sources: Mapping[tuple[str, ...], str], default: str) -> str:
    parts = tuple(str(p) for p in loc)
    for n in range(len(parts), 0, -1):
        if parts[:n] in sources:
            return sources[parts[:n]]
    return default


def _format_validation_error(
    err: ValidationError, cls: type[BaseModel], sources: Mapping[tuple[str, ...], str], default: str
) -> str:
    """One line per problem: the key, where its value came from, what is wrong (and what would be right)."""
    lines = []
    for e in err.errors():
        loc = (
            tuple(p for p in e["loc"] if not isinstance(p, int))
            if e["type"] != "extra_forbidden"
            else e["loc"]
        )
        where = ".".join(str(p) for p in e["loc"]) or "<root>"
        source = _source_of(loc, sources, default)
        if e["type"] == "extra_forbidden":
            hint = did_you_mean(cls, [str(p) for p in e["loc"]])
            lines.append(f"unknown config key {where!r} (from {source}){hint}")
        else:
            lines.append(f"{where}: {e['msg']} (got {e.get('input')!r}, from {source})")
    if len(lines) == 1:
        return f"invalid config: {lines[0]}"
    return "\n".join(["invalid config:", *(f"  {line}" for line in lines)])


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


def _record(sources: dict[tuple[str, ...], str], data: Any, prefix: tuple[str, ...], source: str) -> None:
    """Note ``source`` for every key path in ``data`` (the most specific source wins on errors)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            sources[(*prefix, str(key))] = source
            _record(sources, value, (*prefix, str(key)), source)


def _record_path(sources: dict[tuple[str, ...], str], path: list[str], source: str) -> None:
    """``source`` set ``path``, and created the mappings above it that no earlier source had."""
    for n in range(1, len(path)):
        sources.setdefault(tuple(path[:n]), source)
    sources[tuple(path)] = source


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
    base_name: str = "the preset",
    **values: Any,
) -> C:
    """Build ``cls`` from layered sources; later ones win, ``None`` values are skipped.

    ``base`` (a preset) < the YAML/JSON file at ``path`` < top-level keyword ``values`` <
    ``dotted`` values such as ``{"optim.epochs": 3}`` (CLI flags) < ``key=value`` ``overrides``.
    An error names the key, the source its value came from and, for an unknown key, the closest one.
    """
    data: dict[str, Any] = copy.deepcopy(dict(base or {}))
    sources: dict[tuple[str, ...], str] = {}
    _record(sources, data, (), base_name)
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
        _record(sources, loaded, (), f"config file {p}")
    for key, value in values.items():
        if value is not None:
            data[key] = value
            _record(sources, {key: value}, (), "a command-line flag")
    for key, value in (dotted or {}).items():
        if value is not None:
            apply_dotted(data, key.split("."), value)
            _record_path(sources, key.split("."), "a command-line flag")
    for text in overrides or []:
        key, value = parse_override(text)
        apply_dotted(data, key, value)
        _record_path(sources, key, f"--set {text}")
        _record(sources, value, tuple(key), f"--set {text}")
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e, cls, sources, "the defaults")) from None


def dump_config(cfg: StrictConfig, exclude: set[str] | None = None) -> str:
    """YAML text of a config, for logging and for re-running a job exactly (less ``exclude``)."""
    return yaml.safe_dump(cfg.model_dump(mode="json", exclude=exclude), sort_keys=False)
