"""Efficiency measurements: GMACs, parameter counts and CPU latency per clip.

**GMACs** are multiply-accumulates: :class:`torch.utils.flop_counter.FlopCounterMode` counts a
multiply-add as 2 FLOPs, so ``GMACs = FLOPs / 2 / 1e9``. This is the seed paper's and fvcore's
convention (what they call "GFLOPs": ResNet-18 at 224 px = 1.81 G, EgoDistill = 1.91 G). Like fvcore,
only matmuls, convolutions and attention are counted; normalisation, activations and pooling are not.

``example_inputs`` is either a tuple of positional tensors or a dict of keyword tensors (e.g.
``{"frames": ..., "imu": ...}`` for the student). Every measurement runs the model in eval mode under
``torch.no_grad`` and restores its previous mode afterwards.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

Inputs = tuple[Any, ...] | Mapping[str, Any] | torch.Tensor


def _call(model: nn.Module, inputs: Inputs) -> Any:
    if isinstance(inputs, torch.Tensor):
        return model(inputs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(*inputs)


@contextmanager
def _inference(model: nn.Module):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def count_macs(model: nn.Module, example_inputs: Inputs) -> float:
    """Multiply-accumulates of one forward pass on ``example_inputs``, in G (1e9) MACs.

    ``FlopCounterMode`` FLOPs / 2 (it counts a multiply-add as 2 FLOPs). For a per-clip figure pass a
    batch of one.
    """
    with _inference(model), FlopCounterMode(display=False) as counter:
        _call(model, example_inputs)
    return counter.get_total_flops() / 2 / 1e9


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``); buffers are not counted."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def expand_batch(example_inputs: Inputs, batch: int) -> Inputs:
    """Repeat a batch-of-one example ``batch`` times along dim 0 (non-tensors pass through)."""

    def rep(x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        if x.shape[0] != 1:
            raise ValueError(
                f"expand_batch expects batch-of-one inputs, got a tensor of shape {tuple(x.shape)}"
            )
        return x.expand(batch, *x.shape[1:]).contiguous()

    if isinstance(example_inputs, torch.Tensor):
        return rep(example_inputs)
    if isinstance(example_inputs, Mapping):
        return {k: rep(v) for k, v in example_inputs.items()}
    return tuple(rep(v) for v in example_inputs)


def cpu_latency(
    model: nn.Module,
    example_inputs: Inputs,
    batch: int = 1,
    warmup: int = 2,
    repeats: int = 5,
    threads: int | None = None,
) -> float:
    """Median wall-clock seconds **per clip** of a CPU forward pass at batch size ``batch``.

    ``example_inputs`` is a batch of one, repeated to ``batch`` clips; the median over ``repeats``
    timed runs (after ``warmup`` untimed ones) is divided by ``batch``. ``threads`` sets
    ``torch.set_num_threads`` for the measurement (default: leave torch's setting as it is).
    """
    if repeats < 1 or batch < 1 or warmup < 0:
        raise ValueError("cpu_latency needs repeats >= 1, batch >= 1 and warmup >= 0")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    inputs = expand_batch(example_inputs, batch) if batch > 1 else example_inputs
    try:
        with _inference(model):
            for _ in range(warmup):
                _call(model, inputs)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                _call(model, inputs)
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous_threads)
    return statistics.median(times) / batch


def measure_efficiency(model: nn.Module, example_inputs: Inputs, batch: int = 1) -> dict[str, float]:
    """The one efficiency measurement every model's report uses: GMACs, params, CPU s/clip at ``batch``.

    Fixed protocol (so figures compare across tables): CPU, one thread, 1 warm-up, median of 3 runs.
    """
    model = model.cpu().eval()
    return {
        "gmacs": count_macs(model, example_inputs),
        "params": float(count_params(model)),
        "cpu_latency_sec": cpu_latency(model, example_inputs, batch=batch, warmup=1, repeats=3, threads=1),
        "latency_batch": float(batch),
    }

