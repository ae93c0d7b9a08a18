"""Evaluation: efficiency measurements (GMACs, parameters, CPU latency) and, later, metrics and reports."""
