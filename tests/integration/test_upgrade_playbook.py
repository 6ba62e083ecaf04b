"""playbooks/upgrade.yml, short variant: previous build -> current build -> back, on the session testbed.

Two members, two apps (a Duplicated and a Divided placement: 10 downstream objects), the controller's two
replicas and a syncer per member rolled one at a time in both directions. The run is scoped (its own cluster
names, namespaces, leader Lease and ports) so that it shares the testbed with the other tests, and it leaves the
daemons running (tmc_upgrade_cleanup=false) so that this test can look at the members itself before it cleans up
with the playbook's own cleanup (tmc_upgrade_cleanup_only=true).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from kubernetes import client

from ..conftest import REPO
from .ansible_cli import free_members, run_playbook

PLAYBOOK = REPO / "playbooks" / "upgrade.yml"
SCOPE = "tmc-upgrade-test"
PREFIX = "upg-"


def _free_port_block(size: int = 30) -> int:
    """A base port with ``size`` free ports above it (controller metrics/health and syncer ports)."""
    for base in range(21000, 32000, size):
        socks = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                socks.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise AssertionError("no block of free ports")


def _read(member_api, key: str):
    _cluster, kind, namespace, name = key.split("/")
    if kind == "Deployment":
        return client.AppsV1Api(member_api).read_namespaced_deployment(name, namespace)
    if kind == "Service":
        return client.CoreV1Api(member_api).read_namespaced_service(name, namespace)
    if kind == "ConfigMap":
        return client.CoreV1Api(member_api).read_namespaced_config_map(name, namespace)
    raise AssertionError(f"unexpected kind in {key}")


def _restore_current_hub(bed, tmp_path: Path) -> subprocess.CompletedProcess:
    """The rollback leaves the previous build's API (CRDs, policies) on the shared hub; the tests that follow
    expect this build's, so the current hub role runs again (as the session fixture tmc_hub did)."""
    playbook = tmp_path / "restore-hub.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n"
        "    - role: tmc.multicluster.hub\n"
        f"      tmc_hub_kubeconfig: {bed.kubeconfig('hub', direct=True)}\n"
    )
    return run_playbook(playbook)


def test_upgrade_playbook_short(tmc_hub, hub_api_client, member_api_clients, tmp_path):
    bed = tmc_hub
    free_members(bed)  # one registration per member: the previous build registers them under this run's names
    members = list(bed.members)[:2]
    report = tmp_path / "upgrade.json"
    extra = {
        "tmc_members": {m: str(bed.kubeconfig(m)) for m in members},
        "tmc_upgrade_scope": SCOPE,
        "tmc_upgrade_cluster_prefix": PREFIX,
        "tmc_upgrade_state_dir": str(tmp_path / "state"),
        "tmc_upgrade_base_port": _free_port_block(),
        "tmc_upgrade_apps": 2,
        "tmc_upgrade_namespace_count": 1,
        "tmc_upgrade_replicas": 2,
        # The other tests' clusters on this hub have no syncer; the previous build's controller cannot be limited
        # to this run's clusters, so a long threshold keeps it from tainting theirs.
        "tmc_upgrade_heartbeat_threshold": 3600,
        "tmc_upgrade_rollback": True,
        "tmc_upgrade_report": str(report),
    }
    env = {"TMC_TESTBED_STATE": str(bed.dir)}
    try:
        run = run_playbook(PLAYBOOK, extra_vars={**extra, "tmc_upgrade_cleanup": False}, env=env)
        assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
        assert "upgrade passed" in run.stdout
        data = json.loads(report.read_text())

        # What the playbook observed: nothing re-created, lost or duplicated, no gap beyond its threshold.
        assert data["passed"] is True
        assert [t["name"] for t in data["transitions"]] == ["upgrade", "rollback"]
        assert data["objects_lost"] == 0 and data["objects_duplicated"] == 0 and data["uids_changed"] == 0
        previous, current = data["previous"]["collections"], data["current"]["collections"]
        assert previous != current
        for transition, target in zip(data["transitions"], (current, previous), strict=True):
            assert transition["violations"] == [], transition["violations"]
            assert transition["max_gap_s"] <= data["thresholds"]["max_gap_s"]
            assert transition["uids_changed"] == 0 and transition["objects_lost"] == 0
            assert transition["ready_min"]["controller"] >= 1  # a replica ready in every sample: one at a time
            assert set(transition["daemon_builds"].values()) == {target}
            assert transition["probe"]["samples"] > 1
        # Two apps on two members: app-0 Duplicated (3 objects each), app-1 Divided evenly (3 objects each).
        initial = data["initial_uids"]
        assert len(initial) == 12, initial
        assert data["final_uids"] == initial

        # The previous build is cached outside the repository, keyed by its commit; building again finds it.
        commit = data["previous"]["commit"]
        assert not Path(previous).resolve().is_relative_to(REPO)
        assert Path(previous).parent.name == commit
        again = subprocess.run(
            [str(REPO / "hack" / "upgrade" / "build_previous.sh"), commit],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "ANSIBLE_GALAXY": str(Path(sys.executable).parent / "ansible-galaxy")},
        )
        assert again.stdout.strip().splitlines()[-1] == previous and "cached:" in again.stderr

        # Seen on the members directly: the same objects (same uids) as before the upgrade, now carrying the
        # change made after the rollback.
        for key, uid in initial.items():
            cluster = key.split("/")[0]
            obj = _read(member_api_clients[cluster.removeprefix(PREFIX)], key)
            assert obj.metadata.uid == uid, key
            if key.split("/")[1] == "Deployment":
                assert obj.spec.template.spec.containers[0].image == "registry.example/upgrade-app:3.0"
            if key.split("/")[1] == "ConfigMap":
                assert obj.data == {"version": "3.0"}
    finally:
        cleanup = run_playbook(PLAYBOOK, extra_vars={**extra, "tmc_upgrade_cleanup_only": True}, env=env)
        restored = _restore_current_hub(bed, tmp_path)
        assert cleanup.returncode == 0, cleanup.stdout[-5000:] + cleanup.stderr[-2000:]
        assert restored.returncode == 0, restored.stdout[-5000:] + restored.stderr[-2000:]

    # Cleaned up: this run's clusters are deregistered and nothing of it is left running.
    registrations = client.CustomObjectsApi(hub_api_client).list_cluster_custom_object(
        "tmc.kcp.io", "v1alpha1", "clusterregistrations"
    )
    names = {c["metadata"]["name"] for c in registrations["items"]}
    assert not {PREFIX + m for m in members} & names
    assert not list((tmp_path / "state").glob("*.pid"))
