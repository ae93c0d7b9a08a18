"""Issue 17: the private head is local only (every listening socket on loopback) and its token is 0600."""

from __future__ import annotations

import importlib
import ipaddress
import stat
import subprocess

import pytest

from egodistill.launch import local_head as lh


def _loopback(ip: str) -> bool:
    """127.0.0.1, ::1 or the IPv4-mapped ::ffff:127.0.0.1 that a dual-stack socket reports."""
    addr = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(addr, "ipv4_mapped", None)
    return (mapped or addr).is_loopback


def _psutil():
    importlib.import_module("ray")  # Ray vendors psutil (ray/thirdparty_files)
    return importlib.import_module("psutil")


def test_token_file_is_created_and_kept_owner_only(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    lh.ensure_auth_token()
    token = tmp_path / ".ray" / "auth_token"
    assert token.is_file() and stat.S_IMODE(token.stat().st_mode) == 0o600
    token.chmod(0o644)  # e.g. written earlier by a plain `ray get-auth-token --generate`
    lh.ensure_auth_token()
    assert stat.S_IMODE(token.stat().st_mode) == 0o600


def test_every_socket_of_the_private_head_listens_on_loopback_only(tmp_path):
    psutil = _psutil()
    with lh.local_head(num_cpus=1) as head:
        job = "python -c 'import ray; ray.init(); print(ray.get(ray.remote(lambda: 41).remote()) + 1)'"
        done = subprocess.run(
            [lh._ray_cli(), "job", "submit", "--address", head.dashboard_url, "--", "bash", "-c", job],
            env=lh.client_env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0 and "42" in done.stdout, done.stdout + done.stderr
        listening = []
        for pid in head.processes():
            try:
                proc = psutil.Process(pid)
                conns = proc.net_connections(kind="inet")
                name = proc.name()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            for c in conns:
                if c.status == psutil.CONN_LISTEN:
                    listening.append((name, pid, c.laddr.ip, c.laddr.port))
    names = {n for n, *_ in listening}
    assert len(listening) >= 5 and {"gcs_server", "raylet"} <= names, listening
    exposed = [s for s in listening if not _loopback(s[2])]
    assert not exposed, f"sockets of the private head on other interfaces: {exposed}"


@pytest.mark.parametrize("flag", ["--node-ip-address", "--dashboard-host"])
def test_head_command_binds_loopback(flag, monkeypatch):
    seen = {}

    class Stop(Exception):
        pass

    def fake_popen(cmd, **kwargs):
        seen["cmd"] = cmd
        raise Stop

    monkeypatch.setattr(lh.subprocess, "Popen", fake_popen)
    monkeypatch.setattr(lh, "ensure_auth_token", lambda: None)
    with pytest.raises(Stop):
        lh.start_local_head(num_cpus=1)
    cmd = seen["cmd"]
    assert cmd[cmd.index(flag) + 1] == "127.0.0.1"
