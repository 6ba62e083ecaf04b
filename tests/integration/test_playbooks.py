"""The playbooks, run as a user runs them, against the real testbed."""

from __future__ import annotations

import json

from kubernetes import client
from kubernetes.client.rest import ApiException

from ..conftest import REPO
from .ansible_cli import run_playbook


def test_lifecycle_playbook(tmc_hub, member_api_clients, tmp_path):
    bed = tmc_hub
    report = tmp_path / "lifecycle.json"
    run = run_playbook(
        REPO / "playbooks" / "lifecycle.yml",
        extra_vars={"tmc_report": str(report), "tmc_namespace": "tmc-lifecycle-test"},
        env={"TMC_TESTBED_STATE": str(bed.dir)},
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "lifecycle passed" in run.stdout
    data = json.loads(report.read_text())
    drained = data["drained_member"]
    assert data["objects_lost"] == 0 and data["objects_duplicated"] == 0
    # The app had two objects there; the shared test hub may hold other tests' works for that member too.
    assert data["drain"]["works_deleted"] >= 2 and data["drain"]["downstream_deleted"] >= 2
    # Nothing of the app is left on the drained member; the others still run it.
    apps = client.AppsV1Api(member_api_clients[drained])
    try:
        apps.read_namespaced_deployment("web", "tmc-lifecycle-test")
        raise AssertionError(f"web is still on {drained}")
    except ApiException as err:
        assert err.status == 404
    others = [m for m in bed.members if m != drained]
    for member in others:
        image = (
            client.AppsV1Api(member_api_clients[member])
            .read_namespaced_deployment("web", "tmc-lifecycle-test")
            .spec.template.spec.containers[0]
            .image
        )
        assert image == "registry.example/web:2.0"
