"""A daemon's configuration error is one line and a non-zero exit, never a Python traceback.

The daemons run as real processes; none of these cases reaches an API server (the kubeconfig points
at a closed port: building a client does not connect).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from ..conftest import COLLECTIONS

MODULE = "ansible_collections.tmc.multicluster.plugins.module_utils.daemons"


def kubeconfig(tmp_path) -> str:
    path = tmp_path / "closed.kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t0k3n-for-the-test"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return str(path)


def run(*argv) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", MODULE, *argv, "--log-format", "text"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(COLLECTIONS), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def one_line_error(proc) -> str:
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 2, output
    assert "Traceback" not in output, output
    lines = output.splitlines()
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("daemon", ["controller", "syncer"])
def test_a_missing_kubeconfig_is_named(daemon, tmp_path):
    missing = str(tmp_path / "nope.kubeconfig")
    extra = ["--cluster-name", "east", "--downstream-kubeconfig", kubeconfig(tmp_path)] if daemon == "syncer" else []
    line = one_line_error(run(daemon, "--kubeconfig", missing, *extra))
    assert f"refusing to start: cannot load kubeconfig: {missing} does not exist" in line


def test_the_syncer_without_a_member_outside_a_pod_says_so(tmp_path):
    line = one_line_error(run("syncer", "--cluster-name", "east", "--kubeconfig", kubeconfig(tmp_path)))
    assert "no --downstream-kubeconfig given, and not running in a pod" in line


@pytest.mark.parametrize("daemon", ["controller", "syncer"])
@pytest.mark.parametrize("flag", ["--health-port", "--metrics-port"])
def test_a_busy_port_is_named(daemon, flag, tmp_path):
    config = kubeconfig(tmp_path)
    extra = ["--cluster-name", "east", "--downstream-kubeconfig", config] if daemon == "syncer" else []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(run(daemon, "--kubeconfig", config, flag, str(port), *extra))
    assert f"cannot serve /metrics, /healthz and /readyz on 127.0.0.1:{port}: already in use" in line


def test_the_feature_gate_off_refuses_to_start(tmp_path):
    line = one_line_error(run("controller", "--kubeconfig", kubeconfig(tmp_path), "--feature-gates", "TMC=false"))
    assert "refusing to start" in line and "TMC" in line
