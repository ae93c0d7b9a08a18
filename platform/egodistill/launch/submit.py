"""Run ``ray job submit --working-dir <repo> -- python jobs/<job>.py ...`` and return the job's exit status.

The ``ray`` CLI itself is used (not the SDK), so the demo exercises exactly the command users type;
it uploads the repository (files ignored by .gitignore stay behind), streams the job's output and
exits non-zero when the job fails.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from egodistill.launch.local_head import _ray_cli, client_env

# the ray CLI's client-side INFO/WARNING records (upload details, "next steps" hints)
CLIENT_CHATTER = re.compile(
    r"^\d{4}-\d\d-\d\d [\d:,]+\s+(INFO|WARNING) (packaging|working_dir|dashboard_sdk|cli|sdk)\.py:"
)


def repo_root() -> Path:
    """The checkout holding ``jobs/`` (an editable install of the package)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "jobs").is_dir():
        raise FileNotFoundError(
            f"no jobs/ folder beside the package at {root}: `ray job submit` needs a checkout "
            "(pip install -e .) to upload as the working dir"
        )
    return root


def job_script(job: str, working_dir: Path | None = None) -> Path:
    """``jobs/<job>.py`` of a subcommand (dashes become underscores: ``student-inputs`` -> ``student_inputs.py``)."""
    return (working_dir or repo_root()) / "jobs" / f"{job.replace('-', '_')}.py"


def submit_job(
    address: str, job: str, args: Sequence[str], working_dir: Path | None = None, quiet_client: bool = True
) -> int:
    """Submit ``python jobs/<job>.py *args`` to the cluster at ``address`` and wait; returns its exit code.

    ``python`` on a head started by :mod:`~egodistill.launch.local_head` is this interpreter's.
    ``quiet_client`` drops the CLI's own packaging and "next steps" log lines; the job's output, the
    submission line and the final status line pass through.
    """
    wd = working_dir or repo_root()
    script = job_script(job, wd)
    if not script.is_file():
        raise FileNotFoundError(f"no job script {script}")
    submission = f"egodistill-{job}-{uuid.uuid4().hex[:8]}"
    cmd = [_ray_cli(), "job", "submit", "--address", address, "--working-dir", str(wd),
           "--submission-id", submission, "--", "python", f"jobs/{script.name}", *args]  # fmt: skip
    with subprocess.Popen(cmd, env=client_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          bufsize=1) as proc:  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            if not (quiet_client and CLIENT_CHATTER.search(line)):
                print(line, end="", flush=True)
    return proc.returncode
