"""The controller's per-source passes plan exactly what a whole-namespace pass plans for those sources.

``plan_works(..., only_sources=...)`` reads only the changed sources (and, from the controller's
cache, only their SyncWorks); these tests hold it to the full pass on the real hub, with two
placements that overlap (the first by name takes a workload), one that divides replicas, and a
source that no placement selects.
"""

from __future__ import annotations

import contextlib
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.tmc.multicluster.plugins.module_utils import kube, render
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import common, hub_writes
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning
from hack.testbed import HUB

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
MEMBERS = ("member1", "member2", "member3")


def _deployment(name: str, tier: str, replicas: int) -> dict:
    labels = {"app": name, "tier": tier}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": f"registry.example/{name}:1"}]},
            },
        },
    }


def _placement(ns: str, name: str, **spec) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "WorkloadPlacement",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterSelector": {"matchLabels": {"env": "test"}}, **spec},
    }


@pytest.fixture
def mixed(registered, hub_api_client):
    """Deployments web-1/web-2 (tier web), api-1 (tier api), batch-1 (tier batch, placed by none)."""
    ns = f"incr-{uuid.uuid4().hex[:6]}"
    core, apps = client.CoreV1Api(hub_api_client), client.AppsV1Api(hub_api_client)
    custom = client.CustomObjectsApi(hub_api_client)
    core.create_namespace({"metadata": {"name": ns}})
    for name, tier, replicas in (("web-1", "web", 3), ("web-2", "web", 5), ("api-1", "api", 2), ("batch-1", "x", 1)):
        apps.create_namespaced_deployment(ns, _deployment(name, tier, replicas))
    # "a-web" takes the web tier; "b-any" selects web and api (web is already taken) and divides.
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        "workloadplacements",
        _placement(ns, "a-web", workloadSelector={"matchLabels": {"tier": "web"}}),
    )
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        "workloadplacements",
        _placement(
            ns,
            "b-any",
            workloadSelector={"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]},
            replicaScheduling={"type": "Divided", "weights": [{"cluster": c, "weight": 1} for c in MEMBERS]},
        ),
    )
    yield ns
    selector = f"{render.LABEL_SOURCE_NAMESPACE}={render.label_value(ns)}"
    for work in custom.list_cluster_custom_object(GROUP, VERSION, "syncworks", label_selector=selector)["items"]:
        meta = work["metadata"]
        args = (GROUP, VERSION, meta["namespace"], "syncworks", meta["name"])
        with contextlib.suppress(ApiException):  # 404: it was being deleted and its finalizer was the last
            custom.patch_namespaced_custom_object(*args, {"metadata": {"finalizers": None}})
            custom.delete_namespaced_custom_object(*args)
    core.delete_namespace(ns)


def _by_source(works_list) -> dict:
    out: dict = {}
    for work in works_list:
        out.setdefault(common.source_of(work), {})[common.object_key(work)] = work["spec"]
    return out


def test_a_per_source_pass_plans_what_the_full_pass_plans(mixed, registered):
    hub = kube.client_for(kube.ClientConfig(kubeconfig=str(registered.kubeconfig(HUB, direct=True))))
    now = common.now_utc()
    full = planning.plan_works(hub, mixed, now)
    wanted = _by_source(full.desired.values())
    assert set(wanted) == {("apps/v1", "Deployment", n) for n in ("web-1", "web-2", "api-1")}
    assert {w["spec"]["placement"] for w in full.desired.values() if w["spec"]["source"]["name"] == "api-1"} == {
        "b-any"
    }
    keys = [("apps/v1", "Deployment", n) for n in ("web-1", "web-2", "api-1", "batch-1", "gone")]
    for key in keys:
        one = planning.plan_works(hub, mixed, now, only_sources={key})
        assert _by_source(one.desired.values()) == ({key: wanted[key]} if key in wanted else {}), key
        assert [e for e in one.errors if e.get("source") == f"Deployment/{key[2]}"] == [
            e for e in full.errors if e.get("source") == f"Deployment/{key[2]}"
        ], key
    # The overlap is reported for the web tier only (b-any selects it, a-web has it).
    assert sorted(e["source"] for e in full.errors) == ["Deployment/web-1", "Deployment/web-2"]


def test_after_the_full_pass_is_written_per_source_passes_change_nothing(mixed, registered, hub_api_client):
    hub = kube.client_for(kube.ClientConfig(kubeconfig=str(registered.kubeconfig(HUB, direct=True))))
    full = planning.plan_works(hub, mixed, common.now_utc())
    counts = hub_writes.write_works(hub, full, common.now_utc())
    assert counts.created == len(full.desired) > 0 and not counts.errors
    for name in ("web-1", "web-2", "api-1", "batch-1"):
        one = planning.plan_works(hub, mixed, common.now_utc(), only_sources={("apps/v1", "Deployment", name)})
        assert (one.create, one.update, one.delete) == ([], [], []), name
    # A deleted source: its pass deletes its SyncWorks and nothing else.
    client.AppsV1Api(hub_api_client).delete_namespaced_deployment("api-1", mixed)
    gone = planning.plan_works(hub, mixed, common.now_utc(), only_sources={("apps/v1", "Deployment", "api-1")})
    assert gone.delete and {common.source_of(w) for w in gone.delete} == {("apps/v1", "Deployment", "api-1")}
    assert not gone.create and not gone.update
    hub_writes.write_works(hub, gone, common.now_utc())
    left = planning.plan_works(hub, mixed, common.now_utc())
    assert (left.create, left.update, left.delete) == ([], [], [])


def test_a_create_planned_from_a_lagging_view_updates_the_syncwork_that_is_there(mixed, registered, hub_api_client):
    """A daemon plans from its cache, which can lag behind its own writes: a create of a SyncWork that is
    already there (409) becomes an update with what was planned, not an error."""
    hub = kube.client_for(kube.ClientConfig(kubeconfig=str(registered.kubeconfig(HUB, direct=True))))
    stale = planning.plan_works(hub, mixed, common.now_utc())
    assert hub_writes.write_works(hub, stale, common.now_utc()).created == len(stale.create) > 0
    target = stale.create[0]
    target["spec"]["manifest"]["metadata"].setdefault("labels", {})["lagging"] = "yes"

    counts = hub_writes.write_works(hub, stale, common.now_utc())  # the same creates again, one of them changed

    assert (counts.created, counts.updated, counts.errors) == (0, len(stale.create), [])
    meta = target["metadata"]
    on_hub = client.CustomObjectsApi(hub_api_client).get_namespaced_custom_object(
        GROUP, VERSION, meta["namespace"], "syncworks", meta["name"]
    )
    assert on_hub["spec"]["manifest"]["metadata"]["labels"]["lagging"] == "yes"
