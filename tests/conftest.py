"""Session-wide fixtures: one Ray instance per test session, the ../shared fixture folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository (real dataset fixtures); skip when absent."""
    if not (SHARED_DIR / "fixtures").is_dir():
        pytest.skip(
            f"real dataset fixtures not found at {SHARED_DIR}/fixtures (only present in the project's workspace)"
        )
    return SHARED_DIR


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory: pytest.TempPathFactory):
    """Start Ray once for the whole session (2 CPUs, no dashboard) and shut it down at the end."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
            _temp_dir=str(Path("/tmp") / f"ray-egodistill-tests-{os.getpid()}"),
        )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def ego4d_dataset(tmp_path_factory):
    """(root, config, summary) of the tiny Ego4D-layout synthetic dataset (see tests/synthdata.py)."""
    from egodistill.synthetic import generate
    from synthdata import tiny_config

    root = tmp_path_factory.mktemp("synth_ego4d")
    cfg = tiny_config("ego4d", root)
    return root, cfg, generate(cfg)


@pytest.fixture(scope="session")
def epic_dataset(tmp_path_factory):
    """(root, config, summary) of the tiny EPIC-layout synthetic dataset (see tests/synthdata.py)."""
    from egodistill.synthetic import generate
    from synthdata import tiny_config

    root = tmp_path_factory.mktemp("synth_epic")
    cfg = tiny_config("epic", root)
    return root, cfg, generate(cfg)
