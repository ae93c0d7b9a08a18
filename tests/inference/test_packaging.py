"""Packaging: the torch.export round trip and the MLflow pyfunc model on its input example."""

from __future__ import annotations

import json

import numpy as np
import pytest

from egodistill.inference.packaging import (
    EXPORT_TOLERANCE,
    check_program,
    example_inputs,
    export_program,
    program_module,
    save_pyfunc,
    write_sample,
)


def test_export_round_trip_matches_eager(student_dir, tmp_path):
    import torch

    from egodistill.inference.model_io import load_student

    path = tmp_path / "student.pt2"
    export_program(student_dir, path)
    assert path.stat().st_size > 0
    diff = check_program(student_dir, path, batch=3)  # another batch size than traced: dynamic batch
    assert diff <= EXPORT_TOLERANCE
    model, cfg, _ = load_student(student_dir)
    ex = example_inputs(cfg, 32, batch=2, seed=5)
    args = (torch.from_numpy(ex["frames"]), torch.from_numpy(ex["imu"]))
    probs, feature = torch.export.load(str(path)).module()(*args)
    assert probs.shape == (2, 3) and feature.shape == (2, 24)
    assert torch.allclose(probs.sum(1), torch.ones(2), atol=1e-5)
    eager_probs, _ = program_module(model)(*args)
    assert torch.allclose(probs, eager_probs, atol=EXPORT_TOLERANCE)


def test_export_of_a_visonly_student(visonly_dir, tmp_path):
    path = tmp_path / "vis.pt2"
    export_program(visonly_dir, path)
    assert check_program(visonly_dir, path) <= EXPORT_TOLERANCE


def test_pyfunc_predicts_on_its_input_example(student_dir, tmp_path):
    import mlflow.pyfunc
    import torch

    from egodistill.inference.model_io import load_student

    example = save_pyfunc(student_dir, tmp_path / "model")
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    assert loaded.metadata.get_input_schema() is not None
    out = loaded.predict(example)
    assert list(out.columns) == ["take", "put", "open"]
    assert np.allclose(out.to_numpy().sum(1), 1.0, atol=1e-5)
    model, _, _ = load_student(student_dir)
    with torch.inference_mode():
        expected, _ = program_module(model)(
            torch.from_numpy(example["frames"]), torch.from_numpy(example["imu"])
        )
    assert np.allclose(out.to_numpy(), expected.numpy(), atol=1e-5)
    with pytest.raises(Exception, match="imu"):
        loaded.predict({"frames": example["frames"]})
    sample = write_sample(example, tmp_path / "sample.json")
    body = json.loads(sample.read_text())
    assert np.asarray(body["inputs"]["frames"]).shape == example["frames"].shape
