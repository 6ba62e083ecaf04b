"""A SIGTERM ends a daemon even while its API servers cannot be reached (nothing to drain, no
cache to wait for)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

MODULE = "ansible_collections.tmc.multicluster.plugins.module_utils.daemons"
STOP_WITHIN = 25.0  # the drain's own limit is 20 s; before the fix a controller took minutes


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable_kubeconfig(tmp_path) -> Path:
    path = tmp_path / "kubeconfig"
    server = f"https://127.0.0.1:{_closed_port()}"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}', insecure-skip-tls-verify: true}}}}]\n"
        "users: [{name: u, user: {token: not-a-secret}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    return path


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", MODULE, *args], stdout=out, stderr=subprocess.STDOUT)


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, f"daemon exited {proc.returncode}: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"no {text!r} in the log: {log.read_text()[-2000:]}"
        time.sleep(0.2)


@pytest.mark.parametrize("daemon", ["controller", "syncer"])
def test_sigterm_stops_a_daemon_whose_api_server_is_down(daemon, unreachable_kubeconfig, tmp_path):
    args = ["--kubeconfig", str(unreachable_kubeconfig), "--metrics-port", "0", "--health-port", "0"]
    if daemon == "controller":
        args += ["--leader-elect=false"]
    else:
        args += ["--sync-target-name", "member1", "--downstream-kubeconfig", str(unreachable_kubeconfig)]
    log = tmp_path / "daemon.log"
    proc = _start([daemon, *args], log)
    try:
        _wait_for(log, f"{daemon} starting", proc)
        time.sleep(1.0)  # its watches are failing and backing off by now
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(STOP_WITHIN) == 0
        assert f"{daemon} stopped" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
