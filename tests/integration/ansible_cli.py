"""Run the collection's modules and playbooks through the real ansible CLIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..conftest import COLLECTIONS, REPO

BIN = Path(sys.executable).parent


def hub_args(bed, **extra) -> dict:
    """Module arguments that reach the testbed's hub directly, plus ``extra``."""
    return {"kubeconfig": str(bed.kubeconfig("hub", direct=True)), **extra}


def register_members(bed, labels_of) -> None:
    """Register every member of the testbed in push mode with a fresh heartbeat; ``labels_of(name)``
    gives each one's labels, and its location is its region."""
    for name in bed.members:
        run = run_module(
            "cluster_registration",
            hub_args(
                bed,
                name=name,
                location=bed.state["clusters"][name]["region"],
                heartbeat=True,
                labels=labels_of(name),
                member={"kubeconfig": str(bed.kubeconfig(name, direct=True))},
            ),
        )
        assert not run.failed, run.output


def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "PYTHONPATH": f"{COLLECTIONS}:{REPO}",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class ModuleRun:
    rc: int
    result: dict
    output: str

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed")) or self.rc != 0


def run_module(
    name: str, args: dict, check: bool = False, diff: bool = False, verbosity: int = 0, env: dict | None = None
) -> ModuleRun:
    """``ansible localhost -m tmc.multicluster.<name> -a <json>``; returns its result dict."""
    cmd = [
        str(BIN / "ansible"),
        "localhost",
        "-c",
        "local",
        "-i",
        "localhost,",
        "-m",
        f"tmc.multicluster.{name}",
        "-a",
        json.dumps(args),
    ]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(env), cwd=REPO, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    marker = proc.stdout.find("localhost | ")
    start = proc.stdout.find("=>", marker) if marker >= 0 else -1
    if start >= 0:
        result = json.JSONDecoder().raw_decode(proc.stdout[start + 2 :].lstrip())[0]
        return ModuleRun(proc.returncode, result, output)
    raise AssertionError(f"no module result in ansible output (rc={proc.returncode}):\n{output}")


def run_playbook(
    playbook: Path | str,
    extra_vars: dict | None = None,
    verbosity: int = 0,
    check: bool = False,
    env: dict | None = None,
    inventory: str = "localhost,",
) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "ansible-playbook"), "-i", inventory, "-c", "local", str(playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(env), cwd=REPO, timeout=1200, check=False)
