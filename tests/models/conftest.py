"""Fixtures for the model tests: tiny inputs and random-weight students."""

from __future__ import annotations

import warnings

import pytest
import torch

from egodistill.models.config import StudentConfig


def make_student(**overrides):
    """A student with random f_I (no download); the loud random-weights warning is expected here."""
    from egodistill.models.student import build_student

    values = {"image_weights": "none", "num_classes": 7}
    values.update(overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return build_student(StudentConfig(**values))


@pytest.fixture
def student_factory():
    return make_student


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)
