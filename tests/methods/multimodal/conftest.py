"""Reuse the tiny student workspace (tests/students/conftest.py) for the multimodal job."""

from students.conftest import student_ws  # noqa: F401
