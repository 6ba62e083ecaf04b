"""Replicas an autoscaler owns stay the member's while the daemons run (issue 18: member HPAs and
the syncer used to fight, the Deployment's generation climbing every few seconds).

The controller and three syncers run as real processes (pull mode, a 5-second syncer resync so
that periodic passes happen during the watch). A Deployment without replicas and an HPA
(minReplicas 2) are placed to every member; the members' own HPA controllers scale each copy to 2
(the testbed has no metrics server: an HPA without metrics still enforces its minReplicas, as its
controller does before it reads any metric). Then each copy's generation must stay still for
TMC_RETAIN_OBSERVE_SECONDS (default 60; ``make retained-replicas-long`` watches 300), while the
syncers keep working: a hub change made during the watch arrives on every member, and a change
made by hand to a field TMC does own is put back.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from hack.testbed import HUB

from .ansible_cli import run_module
from .daemons import Daemon
from .security import AllowedKinds

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
OBSERVE = float(os.environ.get("TMC_RETAIN_OBSERVE_SECONDS", "60"))
RESOURCES = "apps/Deployment,autoscaling/HorizontalPodAutoscaler,ConfigMap"


def wait_for(what, check, timeout=180.0, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def pull_fleet(tmc_hub, tmp_path_factory, hub_api_client):
    bed = tmc_hub
    ns = f"retain-{uuid.uuid4().hex[:6]}"
    logs = tmp_path_factory.mktemp("retain")
    hub_kubeconfig = str(bed.kubeconfig(HUB, direct=True))
    daemons = []
    for name in bed.members:
        dest = logs / f"{name}-syncer.kubeconfig"
        run = run_module(
            "cluster_registration",
            {
                "kubeconfig": hub_kubeconfig,
                "name": name,
                "sync_mode": "Pull",
                "syncer_kubeconfig_dest": str(dest),
                "location": bed.state["clusters"][name]["region"],
                "labels": {"env": "test"},
                "member": {"kubeconfig": str(bed.kubeconfig(name, direct=True))},
            },
        )
        assert not run.failed, run.output
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
                    "--resync-period",
                    "5",
                ],
                logs,
            )
        )
    daemons.append(
        Daemon(
            "controller",
            [
                "controller",
                "--kubeconfig",
                hub_kubeconfig,
                "--namespaces",
                ns,
                "--resource-types",
                RESOURCES,
                "--resync-period",
                "5",
            ],
            logs,
        )
    )
    client.CoreV1Api(hub_api_client).create_namespace({"metadata": {"name": ns}})
    try:
        # The platform admin lets HPAs be placed (the hub role's tmc_hub_allowed_kinds).
        with AllowedKinds(hub_api_client, ns, ("autoscaling", "HorizontalPodAutoscaler")):
            for daemon in daemons:
                daemon.start()
            for daemon in daemons:
                daemon.wait_ready()
            yield {"bed": bed, "ns": ns}
    finally:
        for daemon in daemons:
            daemon.stop()
        client.CoreV1Api(hub_api_client).delete_namespace(ns)


def _deployment():
    labels = {"app": "web"}
    return {
        "metadata": {"name": "web", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "registry.example/web:1.0"}]},
            },
        },
    }


def _hpa():
    return {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def placed(pull_fleet, hub_api_client):
    """A Deployment without replicas, its HPA and a ConfigMap, placed to every member."""
    ns = pull_fleet["ns"]
    core, apps = client.CoreV1Api(hub_api_client), client.AppsV1Api(hub_api_client)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "probe", "labels": {"app": "web"}}, "data": {"v": "0"}})
    apps.create_namespaced_deployment(ns, _deployment())
    client.AutoscalingV2Api(hub_api_client).create_namespaced_horizontal_pod_autoscaler(ns, _hpa())
    client.CustomObjectsApi(hub_api_client).create_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        "workloadplacements",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "WorkloadPlacement",
            "metadata": {"name": "web"},
            "spec": {
                "workloadSelector": {"matchLabels": {"app": "web"}},
                "resources": [
                    {"group": "apps", "kind": "Deployment"},
                    {"group": "autoscaling", "kind": "HorizontalPodAutoscaler"},
                    {"group": "", "kind": "ConfigMap"},
                ],
                "clusterSelector": {"matchLabels": {"env": "test"}},
            },
        },
    )
    return pull_fleet


def test_an_autoscaled_deployment_keeps_its_generation_while_the_daemons_run(
    placed, hub_api_client, member_api_clients
):
    bed, ns = placed["bed"], placed["ns"]
    core, apps = client.CoreV1Api(hub_api_client), client.AppsV1Api(hub_api_client)
    members = {c: client.AppsV1Api(member_api_clients[c]) for c in bed.members}

    def copies():
        try:
            return {c: api.read_namespaced_deployment("web", ns) for c, api in members.items()}
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    held = wait_for(
        "every copy scaled to 2 by its HPA",
        lambda: (c := copies()) and all(d.spec.replicas == 2 for d in c.values()) and c,
    )
    generations = {c: d.metadata.generation for c, d in held.items()}

    # The syncers are at work during the watch: a hub change arrives, and drift on a field TMC owns is put back.
    core.patch_namespaced_config_map("probe", ns, {"data": {"v": "1"}})
    wait_for(
        "the hub change on every member",
        lambda: all(
            client.CoreV1Api(member_api_clients[c]).read_namespaced_config_map("probe", ns).data == {"v": "1"}
            for c in bed.members
        ),
    )
    first = bed.members[0]
    drift = {
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "registry.example/web:hand-made"}]}}}
    }
    members[first].patch_namespaced_deployment("web", ns, drift)
    wait_for(
        "the hand-made image put back",
        lambda: (
            members[first].read_namespaced_deployment("web", ns).spec.template.spec.containers[0].image
            == "registry.example/web:1.0"
        ),
    )
    # That drift and its repair each moved the first copy's generation once: the baseline starts here.
    generations[first] = members[first].read_namespaced_deployment("web", ns).metadata.generation

    deadline = time.monotonic() + OBSERVE
    while time.monotonic() < deadline:
        for cluster, copy in copies().items():
            assert copy.spec.replicas == 2, (cluster, copy.spec.replicas)
            assert copy.metadata.generation == generations[cluster], (cluster, copy.metadata.generation, generations)
        time.sleep(1)

    hub = wait_for(
        "the hub's status summing the members",
        lambda: (
            (d := apps.read_namespaced_deployment("web", ns)).status and d.status.replicas == 2 * len(bed.members) and d
        ),
    )
    assert hub.spec.replicas == 1  # the hub's own count (its default) is untouched


def _syncworks(hub_api_client, bed, ns) -> set:
    custom = client.CustomObjectsApi(hub_api_client)
    return {
        (c, w["metadata"]["name"])
        for c in bed.members
        for w in custom.list_namespaced_custom_object(
            GROUP, VERSION, f"tmc-cluster-{c}", "syncworks", label_selector=f"tmc.kcp.io/source-namespace={ns}"
        )["items"]
    }


def test_workload_sync_leaves_pull_mode_members_to_their_syncers(placed, hub_api_client):
    """Pull-mode members are information, not errors: reported as their syncers', counted in
    ``available``, and workload_sync agrees with the controller (its run changes nothing)."""
    bed, ns = placed["bed"], placed["ns"]
    args = {"kubeconfig": str(bed.kubeconfig(HUB, direct=True)), "namespace": ns, "wait": True}
    wait_for("the controller's SyncWorks", lambda: len(_syncworks(hub_api_client, bed, ns)) == 9)
    checked = run_module("workload_sync", args, check=True)
    assert not checked.failed and not checked.changed, checked.output
    assert {c: r["sync_mode"] for c, r in checked.result["clusters"].items()} == dict.fromkeys(bed.members, "Pull")
    run = run_module("workload_sync", args)
    assert not run.failed, run.output
    assert not run.changed and run.result["syncworks"] == {"created": 0, "updated": 0, "deleted": 0}, run.result
    assert run.result["errors"] == [] and run.result["available"] is True, run.result
    for cluster in bed.members:
        assert run.result["clusters"][cluster] == {
            "sync_mode": "Pull",
            "message": "applied by its syncer",
            "syncworks": 3,
            "available": 3,
        }
