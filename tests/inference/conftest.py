"""Fixtures of the inference tests: tiny students in the trained layout (see inferhelpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from inferhelpers import save_student


@pytest.fixture(scope="session")
def student_dir(tmp_path_factory) -> Path:
    return save_student(tmp_path_factory.mktemp("students") / "ego4d" / "tiny-distill")


@pytest.fixture(scope="session")
def visonly_dir(tmp_path_factory) -> Path:
    return save_student(tmp_path_factory.mktemp("students_vis") / "ego4d" / "vis-distill", "visonly_distill")
