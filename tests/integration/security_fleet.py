"""The fleet the security attack tests share: two members with their syncers, a controller, two tenants.

Used as pytest fixtures by test_security_attacks.py and test_security_narrowing.py (each module gets
its own fleet); ``guard`` runs a module's tests with the hub's admission policies and without them.
"""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from hack.testbed import HUB

from .ansible_cli import run_module
from .daemons import Daemon
from .security import GROUP, VERSION, Admission, Tenants

MEMBERS = ("member1", "member2")


@pytest.fixture(scope="module")
def fleet(request, tmc_hub, hub_api_client, tmp_path_factory):
    """member1 and member2 registered in pull mode with their syncers, a controller for two tenant namespaces
    (leader-elected, as by default; a module's ``CONTROLLER_ARGS`` are added to its flags)."""
    bed = tmc_hub
    logs = tmp_path_factory.mktemp("security")
    hub_kubeconfig = bed.kubeconfig(HUB, direct=True)
    tenants = Tenants(hub_api_client, hub_kubeconfig).create()
    daemons, syncer_kubeconfigs = [], {}
    for name in MEMBERS:
        dest = logs / f"{name}-syncer.kubeconfig"
        run = run_module(
            "cluster_registration",
            {
                "kubeconfig": str(hub_kubeconfig),
                "name": name,
                "sync_mode": "Pull",
                "syncer_kubeconfig_dest": str(dest),
                "location": bed.state["clusters"][name]["region"],
                "labels": {"env": "test", "name": name},
                "member": {"kubeconfig": str(bed.kubeconfig(name, direct=True))},
            },
        )
        assert not run.failed, run.output
        syncer_kubeconfigs[name] = dest
        daemons.append(
            Daemon(
                f"syncer-{name}",
                [
                    "syncer",
                    "--cluster-name",
                    name,
                    "--kubeconfig",
                    str(dest),
                    "--downstream-kubeconfig",
                    str(bed.kubeconfig(name, direct=True)),
                    "--heartbeat-interval",
                    "2",
                ],
                logs,
            )
        )
    controller = Daemon(
        "controller",
        [
            "controller",
            "--kubeconfig",
            str(hub_kubeconfig),
            "--namespaces",
            f"{tenants.a},{tenants.b}",
            *getattr(request.module, "CONTROLLER_ARGS", ()),  # a test module's own flags (its --id)
        ],
        logs,
    )
    daemons.append(controller)
    try:
        for daemon in daemons:
            daemon.start()
        for daemon in daemons:
            daemon.wait_ready()
        yield {
            "bed": bed,
            "tenants": tenants,
            "controller": controller,
            "syncer_kubeconfigs": syncer_kubeconfigs,
            "logs": logs,
        }
    finally:
        for daemon in daemons:
            daemon.stop()
        tenants.delete()


@pytest.fixture(scope="module", params=["admission", "controller-only"])
def guard(request, fleet, hub_api_client):
    """Which side must stop the attacks: the hub's admission policies, or (bindings removed) the controller."""
    admission = Admission(hub_api_client)
    if request.param == "controller-only":
        admission.remove()
    try:
        yield request.param
    finally:
        admission.restore()


def custom(api) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def placement(name, spec):
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "WorkloadPlacement", "metadata": {"name": name}, "spec": spec}


def deployment(name, replicas=2):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}},
        },
    }


def works_of(hub_api, namespace):
    return custom(hub_api).list_cluster_custom_object(
        GROUP, VERSION, "syncworks", label_selector=f"tmc.kcp.io/source-namespace={namespace}"
    )["items"]


def condition(obj, ctype):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == ctype:
            return cond
    return None


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:5]}"
