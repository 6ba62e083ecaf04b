"""workload_info on the real testbed: the workspace view after a real workload_sync."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .ansible_cli import hub_args, run_module

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"


@pytest.fixture(scope="module")
def synced(registered, hub_api_client, member_api_clients):
    """A hub namespace with a Deployment (6 replicas, divided 1:1:1) and a ConfigMap, synced and available.

    A second ConfigMap is selected by no placement, and a second placement selects a
    Secret on no cluster at all, so the view must leave the first out and show the
    second as placed nowhere.
    """
    bed = registered
    ns = f"winfo-{uuid.uuid4().hex[:6]}"
    core, apps = client.CoreV1Api(hub_api_client), client.AppsV1Api(hub_api_client)
    custom = client.CustomObjectsApi(hub_api_client)
    core.create_namespace({"metadata": {"name": ns}})
    labels = {"app": "web"}
    try:
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": "web-config", "labels": labels}, "data": {"greeting": "hello"}}
        )
        core.create_namespaced_config_map(ns, {"metadata": {"name": "unplaced"}, "data": {"x": "1"}})
        core.create_namespaced_secret(
            ns, {"metadata": {"name": "nowhere", "labels": {"app": "nowhere"}}, "stringData": {"k": "v"}}
        )
        apps.create_namespaced_deployment(
            ns,
            {
                "metadata": {"name": "web", "labels": labels},
                "spec": {
                    "replicas": 6,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "web", "image": "registry.example/web:1.0"}]},
                    },
                },
            },
        )
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            ns,
            "workloadplacements",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "WorkloadPlacement",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {
                    "workloadSelector": {"matchLabels": labels},
                    "resources": [{"group": "apps", "kind": "Deployment"}, {"kind": "ConfigMap"}],
                    # Only the testbed's members: other tests may register more clusters on a shared hub.
                    "predicates": [f"cluster.name in {sorted(bed.members)!r}"],
                    "replicaScheduling": {
                        "type": "Divided",
                        "weights": [{"cluster": c, "weight": 1} for c in bed.members],
                    },
                },
            },
        )
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            ns,
            "workloadplacements",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "WorkloadPlacement",
                "metadata": {"name": "zz-nowhere", "namespace": ns},
                "spec": {
                    "workloadSelector": {"matchLabels": {"app": "nowhere"}},
                    "resources": [{"kind": "Secret"}],
                    "clusterSelector": {"matchLabels": {"no-such-label": "x"}},
                },
            },
        )
        run = run_module("workload_sync", hub_args(bed, namespace=ns, wait=True, wait_timeout=180))
        assert not run.failed, run.output
        assert run.result["available"] and run.result["syncworks"]["created"] == 6, run.result
        yield bed, ns
    finally:
        # Sources gone -> the next sync deletes the SyncWorks and the member copies; then the namespace.
        apps.delete_namespaced_deployment("web", ns)
        core.delete_namespaced_config_map("web-config", ns)
        cleanup = run_module("workload_sync", hub_args(bed, namespace=ns, fail_on_error=False))
        core.delete_namespace(ns)
        # The sync pass does not remove the member namespaces it created: remove them (they are empty now).
        leftovers = []
        for cluster, member in member_api_clients.items():
            member_core = client.CoreV1Api(member)
            try:
                member_ns = member_core.read_namespace(ns)
            except ApiException as err:
                if err.status == 404:
                    continue
                raise
            leftovers += [
                f"{cluster}/{d.metadata.name}" for d in client.AppsV1Api(member).list_namespaced_deployment(ns).items
            ]
            if (member_ns.metadata.annotations or {}).get("tmc.kcp.io/created-namespace") == "true":
                member_core.delete_namespace(ns)
        assert not leftovers, f"member copies left behind: {leftovers}"
        assert not cleanup.failed, cleanup.output
        assert cleanup.result["syncworks"]["deleted"] == 6, cleanup.result


def info(bed, ns, check=False, **extra):
    run = run_module("workload_info", hub_args(bed, namespace=ns, **extra), check=check)
    assert not run.failed, run.output
    assert not run.changed
    return run.result


def by(rows, key):
    return {row[key]: row for row in rows}


def test_view_counts_per_kind_cluster_and_workload(synced, member_api_clients):
    bed, ns = synced
    view = info(bed, ns)
    assert view["namespace"] == ns
    assert view["totals"] == {"sources": 3, "workloads": 6, "applied": 6, "available": 6, "degraded": 0, "deleting": 0}
    kinds = by(view["kinds"], "kind")
    assert kinds["Deployment"] == {
        "kind": "Deployment",
        "sources": 1,
        "workloads": 3,
        "applied": 3,
        "available": 3,
        "degraded": 0,
    }
    assert kinds["ConfigMap"] == {
        "kind": "ConfigMap",
        "sources": 1,
        "workloads": 3,
        "applied": 3,
        "available": 3,
        "degraded": 0,
    }
    # The Secret is selected (by zz-nowhere) but placed nowhere: a source, no workload objects.
    assert kinds["Secret"] == {
        "kind": "Secret",
        "sources": 1,
        "workloads": 0,
        "applied": 0,
        "available": 0,
        "degraded": 0,
    }
    assert view["clusters"] == [
        {"cluster": c, "workloads": 2, "applied": 2, "available": 2, "degraded": 0} for c in sorted(bed.members)
    ]

    workloads = {(w["kind"], w["name"]): w for w in view["workloads"]}
    assert set(workloads) == {("ConfigMap", "web-config"), ("Deployment", "web"), ("Secret", "nowhere")}
    web = workloads[("Deployment", "web")]
    assert web["placement"] == "web" and web["api_version"] == "apps/v1" and web["on_hub"]
    assert web["desired_replicas"] == 6
    assert web["available_everywhere"] is True
    assert [c["cluster"] for c in web["clusters"]] == sorted(bed.members)
    for entry in web["clusters"]:
        assert entry["applied"] and entry["available"] and not entry["degraded"]
        assert entry["syncwork"] == f"deployment.{ns}.web"
        assert entry["desired_replicas"] == 2
        assert entry["downstream"]["replicas"] == 2 and entry["downstream"]["availableReplicas"] == 2
        assert entry["message"] == "" and entry["last_applied"]
        # The numbers are the member's own.
        member = client.AppsV1Api(member_api_clients[entry["cluster"]]).read_namespaced_deployment("web", ns)
        assert member.status.available_replicas == entry["downstream"]["availableReplicas"]
    assert web["hub_status"]["replicas"] == 6 and web["hub_status"]["availableReplicas"] == 6
    assert web["hub_status"]["conditions"]["Available"] == "True"

    config = workloads[("ConfigMap", "web-config")]
    assert config["available_everywhere"] and config["hub_status"] == {} and config["desired_replicas"] is None
    assert [c["downstream"] for c in config["clusters"]] == [{}, {}, {}]
    nowhere = workloads[("Secret", "nowhere")]
    assert nowhere["placement"] == "zz-nowhere" and nowhere["clusters"] == [] and not nowhere["available_everywhere"]
    assert view["available"] is False  # the Secret runs nowhere

    placements = by(view["placements"], "name")
    assert set(placements) == {"web", "zz-nowhere"}
    web_wp = placements["web"]
    assert sorted(d["cluster"] for d in web_wp["decisions"]) == sorted(bed.members)
    assert all(d["weight"] == 1 for d in web_wp["decisions"])
    assert {t: c["status"] for t, c in web_wp["conditions"].items()} == {
        "Scheduled": "True",
        "Synced": "True",
        "Available": "True",
    }
    assert web_wp["workloads"] == 2 and web_wp["observed_generation"] == web_wp["generation"]
    assert web_wp["summary"] == [
        {"cluster": c, "applied": 2, "available": 2, "degraded": 0} for c in sorted(bed.members)
    ]
    nowhere_wp = placements["zz-nowhere"]
    assert nowhere_wp["decisions"] == [] and nowhere_wp["conditions"]["Scheduled"]["status"] == "False"
    assert nowhere_wp["workloads"] == 1 and nowhere_wp["summary"] == []


def test_check_mode_returns_the_same_view(synced):
    bed, ns = synced
    real = info(bed, ns)
    check = info(bed, ns, check=True)
    for result in (real, check):
        for key in ("invocation", "changed", "_ansible_no_log", "warnings"):
            result.pop(key, None)
    assert check == real


def test_filters(synced):
    bed, ns = synced
    one = info(bed, ns, cluster="member2", kind="deployment")
    assert one["totals"] == {"sources": 1, "workloads": 1, "applied": 1, "available": 1, "degraded": 0, "deleting": 0}
    assert one["kinds"] == [
        {"kind": "Deployment", "sources": 1, "workloads": 1, "applied": 1, "available": 1, "degraded": 0}
    ]
    assert one["clusters"] == [{"cluster": "member2", "workloads": 1, "applied": 1, "available": 1, "degraded": 0}]
    (web,) = one["workloads"]
    assert [c["cluster"] for c in web["clusters"]] == ["member2"] and web["available_everywhere"]
    assert one["available"] is True
    # Placements are narrowed by `placement` only; their summary rows by `cluster`.
    assert {p["name"] for p in one["placements"]} == {"web", "zz-nowhere"}
    assert by(one["placements"], "name")["web"]["summary"] == [
        {"cluster": "member2", "applied": 2, "available": 2, "degraded": 0}
    ]

    web_only = info(bed, ns, placement="web")
    assert [p["name"] for p in web_only["placements"]] == ["web"]
    assert {(w["kind"], w["name"]) for w in web_only["workloads"]} == {
        ("ConfigMap", "web-config"),
        ("Deployment", "web"),
    }
    assert web_only["available"] is True and web_only["totals"]["workloads"] == 6

    nowhere = info(bed, ns, placement="zz-nowhere")
    assert [(w["kind"], w["name"], w["clusters"]) for w in nowhere["workloads"]] == [("Secret", "nowhere", [])]
    assert nowhere["clusters"] == [] and nowhere["available"] is False

    configmaps = info(bed, ns, kind="ConfigMap")
    assert [w["name"] for w in configmaps["workloads"]] == ["web-config"]
    assert [k["kind"] for k in configmaps["kinds"]] == ["ConfigMap"]

    assert info(bed, ns, cluster="no-such-cluster")["workloads"] == []


def test_missing_namespace_fails_with_a_clear_message(registered):
    run = run_module("workload_info", hub_args(registered, namespace=f"absent-{uuid.uuid4().hex[:6]}"))
    assert run.failed and "does not exist" in run.result["msg"]


def warnings_of(run) -> list[str]:
    """The warnings Ansible showed for a module run."""
    return [line.split("[WARNING]:", 1)[1].strip() for line in run.output.splitlines() if "[WARNING]:" in line]


def test_asking_for_what_does_not_exist_warns_instead_of_answering_empty(synced):
    bed, ns = synced
    asked = {
        "placement": ("no-such", f"WorkloadPlacement no-such does not exist in namespace {ns}"),
        "cluster": ("no-such-cluster", "cluster no-such-cluster is not registered"),
        "kind": ("CronJob", f"no workload of kind CronJob is placed in namespace {ns}"),
    }
    for option, (value, words) in asked.items():
        run = run_module("workload_info", hub_args(bed, namespace=ns, **{option: value}))
        assert not run.failed, run.output
        assert run.result["workloads"] == [] and any(words in w for w in warnings_of(run)), (option, run.output)
    # What exists warns of nothing.
    assert warnings_of(run_module("workload_info", hub_args(bed, namespace=ns, placement="web"))) == []


def test_a_namespace_without_placement_warns(registered, hub_api_client):
    ns = f"bare-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(hub_api_client).create_namespace({"metadata": {"name": ns}})
    try:
        for module in ("workload_info", "workload_sync"):
            run = run_module(module, hub_args(registered, namespace=ns))
            assert not run.failed and not run.changed, run.output
            assert any(f"namespace {ns} has no WorkloadPlacement" in w for w in warnings_of(run)), run.output
    finally:
        client.CoreV1Api(hub_api_client).delete_namespace(ns)


@pytest.mark.parametrize("module", ["workload_sync", "workload_info", "placement"])
def test_a_missing_namespace_reads_the_same_in_check_mode(registered, module):
    ns = f"absent-{uuid.uuid4().hex[:6]}"
    extra = {"name": "web"} if module == "placement" else {}
    real = run_module(module, hub_args(registered, namespace=ns, **extra))
    check = run_module(module, hub_args(registered, namespace=ns, **extra), check=True)
    assert real.failed and check.failed
    assert real.result["msg"] == check.result["msg"] == f"namespace: hub namespace {ns!r} does not exist"
