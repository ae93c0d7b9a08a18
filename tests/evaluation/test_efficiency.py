"""GMACs (multiply-adds), parameter counts and CPU latency."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from egodistill.evaluation.efficiency import count_macs, count_params, cpu_latency, expand_batch


def test_linear_macs_exact():
    layer = nn.Linear(10, 20)
    # 3 rows x 10 inputs x 20 outputs multiply-adds
    assert count_macs(layer, (torch.zeros(3, 10),)) * 1e9 == pytest.approx(600)
    assert count_macs(layer, torch.zeros(3, 10)) * 1e9 == pytest.approx(600)


def test_resnet18_macs_match_the_papers_convention():
    model = torchvision.models.resnet18(weights=None)
    gmacs = count_macs(model, (torch.zeros(1, 3, 224, 224),))
    assert gmacs == pytest.approx(1.814, abs=0.005)  # 3.628 GFLOPs at 2 FLOPs per multiply-add
    assert count_params(model) == 11_689_512


def test_count_params_trainable_only():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    assert count_params(model) == 4 * 3 + 3 + 3 * 2 + 2
    assert count_params(model, trainable_only=True) == 3 * 2 + 2


def test_keyword_inputs_and_expand_batch():
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 2), nn.Linear(6, 2)

        def forward(self, x=None, y=None):
            return self.a(x) + self.b(y)

    inputs = {"x": torch.zeros(1, 4), "y": torch.zeros(1, 6)}
    assert count_macs(Two(), inputs) * 1e9 == pytest.approx(4 * 2 + 6 * 2)
    big = expand_batch(inputs, 5)
    assert big["x"].shape == (5, 4) and big["y"].shape == (5, 6)
    with pytest.raises(ValueError, match="batch-of-one"):
        expand_batch(torch.zeros(2, 3), 4)


def test_cpu_latency_restores_mode_and_threads():
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5)).train()
    threads = torch.get_num_threads()
    seconds = cpu_latency(model, (torch.zeros(1, 8),), batch=4, warmup=1, repeats=3, threads=1)
    assert 0 < seconds < 1
    assert model.training and torch.get_num_threads() == threads
