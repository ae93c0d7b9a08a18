"""Models logged by the training jobs: MLflow 3 logged models that load outside the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from inferhelpers import CLASSES, save_student

from egodistill import tracking
from egodistill.tracking import TrackingConfig

# In a fresh interpreter: hide every way to import egodistill except the model's own code_paths copy
# (the venv's editable install, PYTHONPATH), load the model by URI, predict on its input example.
LOAD = textwrap.dedent(
    """
    import importlib.util, json, sys
    sys.path[:] = [p for p in sys.path if not p.rstrip("/").endswith("platform")]
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()
                        and "editable" not in repr(f).lower()]
    assert importlib.util.find_spec("egodistill") is None, "egodistill importable before loading"
    import mlflow, mlflow.pyfunc
    mlflow.set_tracking_uri(sys.argv[1])
    model = mlflow.pyfunc.load_model(sys.argv[2])
    example = model.input_example
    out = model.predict(example)
    import egodistill
    print(json.dumps({"columns": list(out.columns), "sums": out.to_numpy().sum(1).tolist(),
                      "egodistill": egodistill.__file__,
                      "inputs": [s.name for s in model.metadata.get_input_schema().inputs]}))
    """
)


def test_a_logged_student_loads_in_a_fresh_process_outside_the_repo(tmp_path):
    from egodistill.student.export import load_student
    from egodistill.student.export import save_student as save_trained

    src = save_student(tmp_path / "src")
    model, cfg, info = load_student(src)
    ref = tracking.start_run(TrackingConfig(), workspace=tmp_path / "ws", job="distill")
    out_dir = tmp_path / "ws" / "checkpoints" / "students" / "ego4d" / "egodistill" / "distill"
    save_trained(out_dir, model, cfg, info, ref, register="tiny-student")
    tracking.end_run(ref)
    client = ref.client()
    (logged,) = client.search_logged_models([ref.experiment_id])
    assert logged.source_run_id == ref.run_id
    versions = client.search_model_versions("name='tiny-student'")
    assert len(versions) == 1
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    away = tmp_path / "elsewhere"
    away.mkdir()
    done = subprocess.run([sys.executable, "-c", LOAD, ref.tracking_uri, "models:/tiny-student/1"], cwd=away,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["columns"] == CLASSES and np.allclose(result["sums"], 1.0, atol=1e-5)
    assert result["inputs"] == ["frames", "imu"]
    assert "/platform/" not in result["egodistill"], result["egodistill"]  # the model's code copy


def test_a_logged_teacher_predicts_on_its_input_example(tmp_path):
    import mlflow.pyfunc
    import torch

    from egodistill.models.config import TeacherConfig
    from egodistill.models.teachers import build_teacher
    from egodistill.teacher import export
    from egodistill.teacher.pyfunc import log_teacher_model

    cfg = TeacherConfig(name="tiny3d", weights="none", num_classes=len(CLASSES), tiny_width=4)
    torch.manual_seed(0)
    d = export.write_export(tmp_path / "teacher", build_teacher(cfg).state_dict(), cfg, {"classes": CLASSES})
    ref = tracking.start_run(TrackingConfig(), workspace=tmp_path / "ws", job="teacher")
    info = log_teacher_model(ref, d)
    tracking.end_run(ref)
    with tracking._process_uris(ref.tracking_uri):  # the models:/ URI lives in that store
        loaded = mlflow.pyfunc.load_model(info.model_uri)
        reqs = Path(mlflow.pyfunc.get_model_dependencies(info.model_uri)).read_text()
    out = loaded.predict(loaded.input_example)
    assert list(out.columns) == CLASSES and np.allclose(out.to_numpy().sum(1), 1.0, atol=1e-5)
    assert [s.name for s in loaded.metadata.get_input_schema().inputs] == ["clip"]
    assert "torch==" in reqs and "pydantic==" in reqs  # pinned; egodistill itself travels as code_paths
