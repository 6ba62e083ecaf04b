# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Testbeds for the benchmarks: a private hub next to attached members, and the hub role and registrations."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from pathlib import Path

from benchmarks.benchlib.common import API, GROUP, BenchError, log, run_playbook


def install_hub(bed, hub, work: Path, attached: bool) -> None:
    from hack.testbed import HUB

    crds = [
        hub.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{plural}.{GROUP}")
        for plural in ("clusterregistrations", "workloadplacements", "syncworks")
    ]
    if attached and all(crds):
        log("hub: the TMC CRDs are installed already (attached testbed)")
        return
    playbook = work / "hub.yml"
    playbook.write_text(
        "- name: TMC hub\n  hosts: localhost\n  gather_facts: false\n  roles:\n"
        "    - role: tmc.multicluster.hub\n"
        f"      tmc_hub_kubeconfig: {bed.kubeconfig(HUB, direct=True)}\n"
    )
    log("hub: installing the TMC API (role tmc.multicluster.hub)")
    run_playbook(playbook)
    hub.forget(API)


def register_clusters(hub_bed, bed, names: dict, run_id: str, work: Path, label: str) -> dict:
    """Pull-mode registrations ``lat-<member>`` (tainted, namespace-restricted); returns syncer kubeconfigs.

    ``hub_bed``: the testbed whose hub is used; ``bed``: the one whose members are.
    """
    from hack.testbed import HUB

    dests = {member: work / f"{name}-syncer.kubeconfig" for member, name in names.items()}
    tasks = ""
    for member, name in names.items():
        args = {
            "kubeconfig": str(hub_bed.kubeconfig(HUB, direct=True)),
            "name": name,
            "sync_mode": "Pull",
            "syncer_kubeconfig_dest": str(dests[member]),
            "location": bed.state["clusters"][member]["region"],
            "labels": {label: run_id},
            "taints": [{"key": label, "value": "true", "effect": "NoSchedule"}],
            "namespace_selector": {"matchLabels": {label: "true"}},
            "member": {"kubeconfig": str(bed.kubeconfig(member, direct=True))},
        }
        tasks += f"    - name: Register {name}\n      tmc.multicluster.cluster_registration: {json.dumps(args)}\n"
    playbook = work / "register.yml"
    playbook.write_text(f"- name: Register\n  hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}")
    log(f"registering {', '.join(names.values())} in pull mode")
    run_playbook(playbook)
    return dests


def _processes_started_in(directory: Path) -> list[int]:
    """Pids from the pid files under ``directory`` whose process still runs there (its cwd)."""
    pids = []
    for pid_file in directory.glob("*/*.pid"):
        try:
            pid = int(pid_file.read_text())
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(directory)):
                pids.append(pid)
        except (OSError, ValueError):
            continue
    return pids


def stop_private_hub(hub_bed) -> None:
    """``Testbed.down``, then any process of that state dir it missed (by pid, SIGTERM then SIGKILL)."""
    leftovers = _processes_started_in(hub_bed.dir)
    with contextlib.suppress(Exception):
        hub_bed.down(purge=False)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        leftovers = [pid for pid in leftovers if Path(f"/proc/{pid}").exists()]
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while leftovers and time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in leftovers):
            time.sleep(0.2)
    shutil.rmtree(hub_bed.dir, ignore_errors=True)


def patient_testbed(state_dir, members: int):
    """A ``hack.testbed.Testbed`` that gives a just-started process a moment before calling it dead.

    Right after ``Popen`` returns, ``/proc/<pid>/cmdline`` can still be empty (the exec is not
    finished), so ``Testbed.pid`` says "not running" and ``up`` fails with "exited at start" - most
    often for a hub-only testbed, which checks a component immediately after starting it.
    """
    from hack.testbed import Testbed

    class PatientTestbed(Testbed):
        def _ensure_alive(self, c) -> None:
            deadline = time.monotonic() + 5
            while not self.pid(c) and time.monotonic() < deadline:
                time.sleep(0.1)
            super()._ensure_alive(c)

    return PatientTestbed(state_dir, members=members)


def start_private_hub(hub_bed, attempts: int = 2) -> None:
    """A hub-only testbed; a start that fails (a loaded machine) is cleaned up and tried once more."""
    from hack.testbed import TestbedError

    for attempt in range(1, attempts + 1):
        stop_private_hub(hub_bed)
        try:
            hub_bed.up()
            return
        except TestbedError as err:
            logs = "".join(
                f"\n--- {path.name}: {path.read_text(errors='replace')[-1500:]}"
                for path in sorted((hub_bed.dir / "hub").glob("*.log"))
            )
            if attempt == attempts:
                raise BenchError(f"the private hub did not start: {err}{logs}") from None
            log(f"hub: start failed ({err}); once more{logs}")
