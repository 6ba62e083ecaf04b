"""daemon_process (and the roles on it) report the truth: ok only when the process it started runs and is
ready; otherwise the task fails with the process's own error and nothing is left crash-looping.

Real processes and real ports on this machine; no cluster is needed (the controller refuses to start
before it would connect).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

from .ansible_cli import run_module, run_playbook

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leftovers(state_dir) -> list[str]:
    """Pid and state files a failed start must not leave behind (a supervisor restarting the process)."""
    return sorted(p.name for p in state_dir.glob("*") if p.suffix in (".pid", ".json"))


def test_a_missing_program_fails_with_the_error(tmp_path):
    run = run_module(
        "daemon_process", {"name": "ghost", "pid_file": str(tmp_path / "ghost.pid"), "argv": ["/nonexistent/tmc-x"]}
    )
    assert run.failed
    assert "ghost could not be started: cannot run /nonexistent/tmc-x: No such file or directory" in run.result["msg"]
    assert run.result["running"] is False
    assert leftovers(tmp_path) == []


def test_a_taken_port_fails_naming_its_holder_and_starts_nothing(tmp_path):
    port = free_port()
    holder = subprocess.Popen([PYTHON, "-m", "http.server", str(port), "--bind", "127.0.0.1"])  # noqa: S603
    try:
        run = run_module(
            "daemon_process",
            {
                "name": "web",
                "pid_file": str(tmp_path / "web.pid"),
                "argv": [PYTHON, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                "wait_ready_url": f"http://127.0.0.1:{port}/",
                "wait_timeout": 20,
            },
        )
        assert run.failed
        assert f"port {port} is already in use by pid {holder.pid}" in run.result["msg"], run.result["msg"]
        assert "web was not started" in run.result["msg"]
        assert leftovers(tmp_path) == [], "nothing was started"
        assert holder.poll() is None, "the holder is left alone"
    finally:
        holder.terminate()
        holder.wait(10)


def test_a_process_that_ends_at_once_fails_with_its_own_last_error(tmp_path):
    script = "import sys, json; print(json.dumps({'level': 'error', 'msg': 'refusing to start: no hub'})); sys.exit(2)"
    run = run_module(
        "daemon_process",
        {"name": "quits", "pid_file": str(tmp_path / "quits.pid"), "argv": [PYTHON, "-c", script], "wait_timeout": 20},
    )
    assert run.failed
    assert run.result["msg"].startswith("quits exited (exit code 2)"), run.result["msg"]
    assert run.result["last_error"] == "refusing to start: no hub"
    assert leftovers(tmp_path) == [], "its supervisor was stopped: no crash loop behind a failed task"


def test_readiness_answered_by_another_process_is_not_taken_for_it(tmp_path):
    """The process starts a server in a session of its own: the URL answers, but not from the process started."""
    port = free_port()
    foreign = tmp_path / "foreign.pid"
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([{PYTHON!r}, '-m', 'http.server', '{port}', '--bind', '127.0.0.1'],"
        " start_new_session=True)\n"
        f"open({str(foreign)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(300)\n"
    )
    try:
        run = run_module(
            "daemon_process",
            {
                "name": "imposter",
                "pid_file": str(tmp_path / "imposter.pid"),
                "argv": [PYTHON, "-c", script],
                "wait_ready_url": f"http://127.0.0.1:{port}/",
                "wait_timeout": 30,
            },
        )
        assert run.failed
        assert f"did not answer http://127.0.0.1:{port}/ itself: port {port} is held by pid" in run.result["msg"]
        assert leftovers(tmp_path) == ["foreign.pid"] or leftovers(tmp_path) == []
    finally:
        if foreign.exists():
            os.kill(int(foreign.read_text()), signal.SIGTERM)


def test_the_controller_role_with_the_tmc_gate_off_says_so(tmp_path):
    kubeconfig = tmp_path / "hub.kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "x"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    playbook = tmp_path / "controller.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": PYTHON},
                    "roles": [
                        {
                            "role": "tmc.multicluster.controller",
                            "tmc_hub_kubeconfig": str(kubeconfig),
                            "tmc_feature_gates": {"TMC": False},
                            "tmc_controller_replicas": 1,
                            "tmc_controller_metrics_port": free_port(),
                            "tmc_controller_health_port": free_port(),
                            "tmc_controller_wait_timeout": 60,
                            "tmc_state_dir": str(tmp_path / "state"),
                        }
                    ],
                }
            ]
        )
    )
    run = run_playbook(playbook)
    assert run.returncode != 0
    assert "refusing to start: feature gate TMC is off" in run.stdout, run.stdout[-3000:]
    assert "did not answer 200" not in run.stdout, "not a readiness timeout"
    assert leftovers(tmp_path / "state") == []
