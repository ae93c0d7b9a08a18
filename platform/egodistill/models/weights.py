"""Loading weights: torchvision weights enums, local checkpoints, or nothing.

One rule for every model (teachers and the student's ResNet-18): ``weights`` is ``"none"``,
``"torchvision"`` or a path (see :mod:`egodistill.models.config`). Pretrained weights never silently
turn into random ones: a torchvision file that is neither cached nor downloadable raises
:class:`WeightsUnavailableError`, a checkpoint that does not fit raises :class:`CheckpointMismatchError`
naming the file and the offending keys.

Downloads go through :func:`torch.hub.load_state_dict_from_url` (cache: ``$TORCH_HOME/hub/checkpoints``)
with a socket timeout, so a machine whose firewall drops packets fails after ``timeout_s`` instead of
hanging; ``allow_download=False`` never touches the network.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import socket
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import torch
from torch import nn

log = logging.getLogger(__name__)

WeightsKind = Literal["none", "torchvision", "path"]

#: Prefixes that wrappers add to state-dict keys: DDP/Ray ``prepare_model`` (``module.``),
#: ``torch.compile`` (``_orig_mod.``) and :class:`~egodistill.models.teachers.TeacherModel` (``net.``).
WRAPPER_PREFIXES = ("module.", "_orig_mod.", "net.")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were requested but could not be read from the cache nor downloaded."""


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's keys or tensor shapes do not match the model it is loaded into."""


def weights_kind(value: str) -> WeightsKind:
    """Classify a ``weights`` config value."""
    if value == "none":
        return "none"
    if value == "torchvision":
        return "torchvision"
    return "path"


def torchvision_cache_path(weights: Any) -> Path:
    """Where torch's hub cache keeps the file of a torchvision weights enum member."""
    filename = Path(urlparse(weights.url).path).name
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def fetch_torchvision_state_dict(
    weights: Any, *, allow_download: bool = True, timeout_s: float = 30.0
) -> dict[str, torch.Tensor]:
    """State dict of a torchvision weights enum member (e.g. ``ResNet18_Weights.IMAGENET1K_V1``).

    Reads the hub cache first; otherwise downloads (hash-checked) with ``timeout_s`` as the socket
    timeout. Any failure becomes a :class:`WeightsUnavailableError` that says how to proceed.
    """
    cached = torchvision_cache_path(weights)
    if cached.is_file():
        return _torch_load(cached)
    hint = (
        f"Download {weights.url} on a machine with internet and either put it at {cached} "
        f"(torch's hub cache; set TORCH_HOME to move it) or set weights to the file's path (local "
        f'checkpoint). weights: "none" trains from random initialisation instead.'
    )
    if not allow_download:
        raise WeightsUnavailableError(
            f"torchvision weights {weights} are not in the cache ({cached}) and downloads are disabled "
            f"(allow_download=False). {hint}"
        )
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        state = torch.hub.load_state_dict_from_url(
            weights.url, progress=False, check_hash=True, map_location="cpu", weights_only=True
        )
    except Exception as e:  # URLError, timeouts, HTTP errors, hash mismatch: all mean "not available"
        raise WeightsUnavailableError(
            f"could not fetch torchvision weights {weights} from {weights.url}: {type(e).__name__}: {e}. "
            f"This machine may have no internet access. {hint}"
        ) from e
    finally:
        socket.setdefaulttimeout(previous)
    return dict(state)


def _torch_load(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointMismatchError(
            f"cannot read checkpoint {path}: {type(e).__name__}: {e} (expected a state dict saved with torch.save)"
        ) from e
    return _unwrap_state_dict(obj, path)


def _unwrap_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """Accept a bare state dict or the common ``{"state_dict": ...}`` / ``{"model": ...}`` wrappers."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                obj = inner
                break
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return dict(obj)
    raise CheckpointMismatchError(
        f"checkpoint {path} does not hold a state dict (a mapping of parameter names to tensors); "
        f"got {type(obj).__name__}"
    )


def strip_prefixes(state: Mapping[str, torch.Tensor], prefixes: Iterable[str] = WRAPPER_PREFIXES) -> dict:
    """Remove wrapper prefixes (``module.``, ``net.``, ...) shared by *all* keys, repeatedly."""
    out = dict(state)
    changed = True
    while changed and out:
        changed = False
        for p in prefixes:
            if all(k.startswith(p) for k in out):
                out = {k[len(p) :]: v for k, v in out.items()}
                changed = True
    return out


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a local checkpoint with ``torch.load(map_location="cpu", weights_only=True)``.

    Wrapper prefixes are stripped (see :data:`WRAPPER_PREFIXES`).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(
            f'checkpoint {p} does not exist (weights must be "none", "torchvision" or a checkpoint path)'
        )
    return strip_prefixes(_torch_load(p))


def load_state_dict_strict(
    module: nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    *,
    ignore_missing: Iterable[str] = (),
    ignore_unexpected: Iterable[str] = (),
) -> None:
    """``module.load_state_dict`` that reports every problem at once, naming ``source``.

    Keys starting with a prefix in ``ignore_missing``/``ignore_unexpected`` are tolerated (e.g. the
    ImageNet classifier ``fc.`` of a ResNet-18 whose head we drop).
    """
    ignore_missing, ignore_unexpected = tuple(ignore_missing), tuple(ignore_unexpected)
    own = module.state_dict()
    state = {k: v for k, v in state.items() if not (k not in own and k.startswith(ignore_unexpected))}
    missing = [k for k in own if k not in state and not k.startswith(ignore_missing)]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = [f"checkpoint {source} does not match {type(module).__name__}:"]
        for title, items in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", shapes),
        ):
            if items:
                shown = ", ".join(items[:12]) + (f", ... ({len(items)} in all)" if len(items) > 12 else "")
                parts.append(f"  {title}: {shown}")
        raise CheckpointMismatchError("\n".join(parts))
    module.load_state_dict(state, strict=False)


_RANDOM_INIT_EXPECTED = contextvars.ContextVar("random_init_expected", default=False)


@contextlib.contextmanager
def random_init_expected() -> Iterator[None]:
    """Build models with ``weights: none`` and no warning: their weights are loaded right after (an
    export) or never matter (GMACs and latency). Without it every export load and every efficiency
    row cried RANDOM weights in runs whose f_I was pretrained."""
    token = _RANDOM_INIT_EXPECTED.set(True)
    try:
        yield
    finally:
        _RANDOM_INIT_EXPECTED.reset(token)


def warn_random_init(what: str) -> None:
    """Say loudly that a model meant to be pretrained starts from random weights."""
    if _RANDOM_INIT_EXPECTED.get():
        return
    message = (
        f"!!! {what} uses RANDOM weights (weights: none). Features from a randomly initialised "
        f"backbone carry no pretrained semantics; only use this for tests and smoke runs. !!!"
    )
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
