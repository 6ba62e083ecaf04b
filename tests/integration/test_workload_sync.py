"""workload_sync on the real testbed: Divided placement, updates, overrides, drift, deletion, Orphan."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .ansible_cli import hub_args, run_module

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"


@pytest.fixture
def shop(registered, hub_api_client):
    """A hub namespace with a Deployment (6 replicas), a Service and a ConfigMap."""
    ns = f"shop-{uuid.uuid4().hex[:6]}"
    core, apps = client.CoreV1Api(hub_api_client), client.AppsV1Api(hub_api_client)
    core.create_namespace({"metadata": {"name": ns}})
    labels = {"app": "web"}
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "web-config", "labels": labels}, "data": {"greeting": "hello"}}
    )
    core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "web", "labels": labels},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
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
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "registry.example/web:1.0",
                                "envFrom": [{"configMapRef": {"name": "web-config"}}],
                            }
                        ]
                    },
                },
            },
        },
    )
    yield ns
    run_module("workload_sync", hub_args(registered, namespace=ns, fail_on_error=False))
    core.delete_namespace(ns)


def placement(ns, **spec):
    body = {
        "workloadSelector": {"matchLabels": {"app": "web"}},
        "clusterSelector": {"matchLabels": {"env": "test"}},
        "replicaScheduling": {
            "type": "Divided",
            "weights": [{"cluster": c, "weight": 1} for c in ("member1", "member2", "member3")],
        },
        **spec,
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "WorkloadPlacement",
        "metadata": {"name": "web", "namespace": ns},
        "spec": body,
    }


def create_placement(hub_api_client, ns, **spec):
    client.CustomObjectsApi(hub_api_client).create_namespaced_custom_object(
        GROUP, VERSION, ns, "workloadplacements", placement(ns, **spec)
    )


def member_deployment(member_api_clients, cluster, ns):
    try:
        return client.AppsV1Api(member_api_clients[cluster]).read_namespaced_deployment("web", ns)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def sync(bed, ns, check=False, **extra):
    run = run_module("workload_sync", hub_args(bed, namespace=ns, **extra), check=check)
    assert not run.failed, run.output
    return run


def test_divided_placement_runs_everywhere_and_reports_on_the_hub(registered, hub_api_client, member_api_clients, shop):
    bed, ns = registered, shop
    create_placement(hub_api_client, ns)

    check = sync(bed, ns, check=True)
    assert check.changed
    assert check.result["syncworks"]["created"] == 9
    assert all(member_deployment(member_api_clients, c, ns) is None for c in bed.members)

    real = sync(bed, ns, wait=True, wait_timeout=180)
    assert real.changed and real.result["available"]
    assert real.result["syncworks"] == {"created": 9, "updated": 0, "deleted": 0}
    for cluster in bed.members:
        deployment = member_deployment(member_api_clients, cluster, ns)
        assert deployment.spec.replicas == 2
        assert deployment.metadata.labels["tmc.kcp.io/managed"] == "true"
        assert deployment.metadata.labels["tmc.kcp.io/cluster"] == cluster
        assert deployment.status.available_replicas == 2
        pods = client.CoreV1Api(member_api_clients[cluster]).list_namespaced_pod(ns).items
        assert len(pods) == 2 and all(p.status.phase == "Running" for p in pods)
        assert client.CoreV1Api(member_api_clients[cluster]).read_namespaced_config_map("web-config", ns)
    hub_deployment = client.AppsV1Api(hub_api_client).read_namespaced_deployment("web", ns)
    assert hub_deployment.status.available_replicas == 6
    assert hub_deployment.status.replicas == 6
    wp = client.CustomObjectsApi(hub_api_client).get_namespaced_custom_object(
        GROUP, VERSION, ns, "workloadplacements", "web"
    )
    assert sorted(d["cluster"] for d in wp["status"]["decisions"]) == ["member1", "member2", "member3"]

    repeat = sync(bed, ns)
    assert not repeat.changed, repeat.result
    assert all(c["unchanged"] == 3 for c in repeat.result["clusters"].values())
    assert not sync(bed, ns, check=True).changed


def test_updates_overrides_drift_and_deletion(registered, hub_api_client, member_api_clients, shop):
    bed, ns = registered, shop
    create_placement(hub_api_client, ns, overrides=[{"clusters": ["member3"], "image": {"registry": "mirror.example"}}])
    sync(bed, ns)
    image = {
        c: member_deployment(member_api_clients, c, ns).spec.template.spec.containers[0].image for c in bed.members
    }
    assert image == {
        "member1": "registry.example/web:1.0",
        "member2": "registry.example/web:1.0",
        "member3": "mirror.example/web:1.0",
    }

    apps = client.AppsV1Api(hub_api_client)
    apps.patch_namespaced_deployment(
        "web",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "registry.example/web:2.0"}]}}}},
    )
    updated = sync(bed, ns)
    assert updated.changed and updated.result["syncworks"]["updated"] == 3
    image = {
        c: member_deployment(member_api_clients, c, ns).spec.template.spec.containers[0].image for c in bed.members
    }
    assert image == {
        "member1": "registry.example/web:2.0",
        "member2": "registry.example/web:2.0",
        "member3": "mirror.example/web:2.0",
    }

    # A field the hub's object no longer has goes from every member too (the SyncWork was created with it).
    core = client.CoreV1Api(hub_api_client)
    config = core.read_namespaced_config_map("web-config", ns)
    config.data = {"farewell": "bye"}
    core.replace_namespaced_config_map("web-config", ns, config)
    assert sync(bed, ns).result["syncworks"]["updated"] == 3
    data = {
        c: client.CoreV1Api(member_api_clients[c]).read_namespaced_config_map("web-config", ns).data
        for c in bed.members
    }
    assert data == dict.fromkeys(bed.members, {"farewell": "bye"})

    # Drift: someone scales the copy on member2 directly; the next sync puts it back.
    client.AppsV1Api(member_api_clients["member2"]).patch_namespaced_deployment("web", ns, {"spec": {"replicas": 5}})
    drift = sync(bed, ns)
    assert drift.changed and drift.result["clusters"]["member2"]["updated"] == 1
    assert member_deployment(member_api_clients, "member2", ns).spec.replicas == 2

    # Deleting on the hub removes the object everywhere; check mode predicts it and deletes nothing.
    client.CoreV1Api(hub_api_client).delete_namespaced_service("web", ns)
    custom = client.CustomObjectsApi(hub_api_client)
    predicted = sync(bed, ns, check=True)
    assert predicted.changed and predicted.result["syncworks"]["deleted"] == 3, predicted.result
    assert {c: predicted.result["clusters"][c]["deleted"] for c in bed.members} == dict.fromkeys(bed.members, 1)
    for cluster in bed.members:
        assert client.CoreV1Api(member_api_clients[cluster]).read_namespaced_service("web", ns)
        work = custom.get_namespaced_custom_object(
            GROUP, VERSION, f"tmc-cluster-{cluster}", "syncworks", f"service.{ns}.web"
        )
        assert "deletionTimestamp" not in work["metadata"], work["metadata"]
    gone = sync(bed, ns)
    assert gone.result["syncworks"]["deleted"] == 3
    assert {c: gone.result["clusters"][c]["deleted"] for c in bed.members} == dict.fromkeys(bed.members, 1)
    for cluster in bed.members:
        with pytest.raises(ApiException) as err:
            client.CoreV1Api(member_api_clients[cluster]).read_namespaced_service("web", ns)
        assert err.value.status == 404
    works = client.CustomObjectsApi(hub_api_client).list_namespaced_custom_object(
        GROUP, VERSION, "tmc-cluster-member1", "syncworks", label_selector=f"tmc.kcp.io/source-namespace={ns}"
    )["items"]
    assert sorted(w["spec"]["manifest"]["kind"] for w in works) == ["ConfigMap", "Deployment"]


def test_orphan_policy_leaves_objects_on_members(registered, hub_api_client, member_api_clients, shop):
    bed, ns = registered, shop
    create_placement(hub_api_client, ns, deletionPolicy="Orphan")
    sync(bed, ns)
    client.CoreV1Api(hub_api_client).delete_namespaced_config_map("web-config", ns)
    run = sync(bed, ns)
    assert run.result["syncworks"]["deleted"] == 3
    for cluster in bed.members:
        assert client.CoreV1Api(member_api_clients[cluster]).read_namespaced_config_map("web-config", ns)


def test_a_refused_object_is_reported_and_stops_nothing(registered, hub_api_client, member_api_clients, shop):
    bed, ns = registered, shop
    create_placement(hub_api_client, ns)
    sync(bed, ns)
    # A quota on member1 refuses the Service; everything else keeps running there.
    client.CoreV1Api(member_api_clients["member1"]).create_namespaced_resource_quota(
        ns, {"metadata": {"name": "no-services"}, "spec": {"hard": {"services": "0"}}}
    )
    client.CoreV1Api(member_api_clients["member1"]).delete_namespaced_service("web", ns)
    run = run_module("workload_sync", hub_args(bed, namespace=ns, fail_on_error=False))
    assert not run.failed, run.output
    errors = run.result["errors"]
    assert len(errors) == 1 and errors[0]["cluster"] == "member1" and errors[0]["kind"] == "Service"
    assert "exceeded quota" in errors[0]["message"]
    assert member_deployment(member_api_clients, "member1", ns) is not None
    assert client.CoreV1Api(member_api_clients["member2"]).read_namespaced_service("web", ns)
    work = client.CustomObjectsApi(hub_api_client).get_namespaced_custom_object(
        GROUP, VERSION, "tmc-cluster-member1", "syncworks", f"service.{ns}.web"
    )
    assert work["status"]["applied"] is False and "exceeded quota" in work["status"]["message"]
    failing = run_module("workload_sync", hub_args(bed, namespace=ns))
    assert failing.failed and "could not be synced" in failing.result["msg"]


def test_a_manifest_that_cannot_be_rendered_deletes_nothing(registered, hub_api_client, member_api_clients, shop):
    bed, ns = registered, shop
    create_placement(hub_api_client, ns)
    sync(bed, ns)
    # An override whose JSON patch cannot apply to member2's Deployment: its render fails.
    client.CustomObjectsApi(hub_api_client).patch_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        "workloadplacements",
        "web",
        {
            "spec": {
                "overrides": [
                    {
                        "clusters": ["member2"],
                        "jsonPatch": [{"op": "replace", "path": "/spec/template/spec/nodeName/oops", "value": "x"}],
                    }
                ]
            }
        },
    )
    run = run_module("workload_sync", hub_args(bed, namespace=ns, fail_on_error=False))
    assert not run.failed, run.output
    assert any(e.get("cluster") == "member2" and "jsonPatch" in e["message"] for e in run.result["errors"])
    assert run.result["syncworks"]["deleted"] == 0
    assert member_deployment(member_api_clients, "member2", ns) is not None
    assert member_deployment(member_api_clients, "member1", ns) is not None


def test_a_misspelled_field_is_named_not_a_server_error(registered, hub_api_client, member_api_clients, shop):
    bed, ns = registered, shop
    create_placement(hub_api_client, ns)
    sync(bed, ns)
    before = member_deployment(member_api_clients, "member3", ns)
    # A merge patch with a typo: the member's API server answers a server-side apply of it with 500.
    typo = {"spec": {"overrides": [{"clusters": ["member3"], "mergePatch": {"spec": {"replicass": 4}}}]}}
    client.CustomObjectsApi(hub_api_client).patch_namespaced_custom_object(
        GROUP, VERSION, ns, "workloadplacements", "web", typo
    )
    run = run_module("workload_sync", hub_args(bed, namespace=ns, fail_on_error=False))
    assert not run.failed, run.output
    refused = {e["kind"]: e for e in run.result["errors"] if e.get("cluster") == "member3"}
    assert set(refused) == {"ConfigMap", "Service", "Deployment"}, run.result["errors"]
    assert all(e["status"] == 422 and "(a misspelled field?)" in e["message"] for e in refused.values()), refused
    assert ".spec.replicass: field not declared in schema" in refused["Deployment"]["message"]
    assert [e for e in run.result["errors"] if e.get("cluster") != "member3"] == []
    # Nothing is lost: member3 keeps what ran there, untouched.
    after = member_deployment(member_api_clients, "member3", ns)
    assert after is not None and after.metadata.generation == before.metadata.generation
    failing = run_module("workload_sync", hub_args(bed, namespace=ns))
    assert failing.failed and "(a misspelled field?)" in failing.result["msg"], failing.result["msg"]


def test_a_placement_that_does_not_exist_warns(registered, hub_api_client, shop):
    bed, ns = registered, shop
    create_placement(hub_api_client, ns)
    run = run_module("workload_sync", hub_args(bed, namespace=ns, placement="no-such", clusters=["member1", "nope"]))
    assert not run.failed and not run.changed, run.output
    shown = [line for line in run.output.splitlines() if "[WARNING]:" in line]
    assert any(f"WorkloadPlacement no-such does not exist in namespace {ns} (it has: web)" in w for w in shown), shown
    assert any("not registered, so not synced: nope" in w for w in shown), shown


def test_a_member_s_own_service_account_an_older_version_took_is_given_back(
    registered, hub_api_client, member_api_clients, shop
):
    """An older version placed the hub's ``default`` ServiceAccount: its SyncWork is on the hub and
    the member's own ``default`` carries TMC's marks. The next pass deletes that SyncWork, and the
    member keeps its ServiceAccount (the same object), only without TMC's marks."""
    bed, ns = registered, shop
    create_placement(hub_api_client, ns)
    sync(bed, ns)
    custom, member = client.CustomObjectsApi(hub_api_client), client.CoreV1Api(member_api_clients["member1"])
    home = "tmc-cluster-member1"
    works = custom.list_namespaced_custom_object(
        GROUP, VERSION, home, "syncworks", label_selector=f"tmc.kcp.io/source-namespace={ns}"
    )["items"]
    model = next(w for w in works if w["spec"]["manifest"]["kind"] == "ConfigMap")
    own = member.read_namespaced_service_account("default", ns)
    marks = {"tmc.kcp.io/managed": "true", "tmc.kcp.io/cluster": "member1"}
    member.patch_namespaced_service_account(
        "default", ns, {"metadata": {"labels": marks, "annotations": {"tmc.kcp.io/source": f"{ns}/default"}}}
    )
    manifest = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}}
    legacy = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SyncWork",
        "metadata": {
            "name": f"serviceaccount.{ns}.default",  # render.syncwork_name of its source
            "labels": model["metadata"]["labels"],
            "finalizers": model["metadata"].get("finalizers") or [],
        },
        "spec": {
            **model["spec"],
            "manifest": manifest,
            "source": {"apiVersion": "v1", "kind": "ServiceAccount", "name": "default", "namespace": ns},
        },
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, home, "syncworks", legacy)

    checked = sync(bed, ns, check=True)
    assert checked.changed and checked.result["syncworks"]["deleted"] == 1, checked.result
    kept = custom.get_namespaced_custom_object(GROUP, VERSION, home, "syncworks", legacy["metadata"]["name"])
    assert "deletionTimestamp" not in kept["metadata"], kept["metadata"]  # check mode deletes nothing
    assert member.read_namespaced_service_account("default", ns).metadata.labels == marks  # check mode: as it was

    run = sync(bed, ns)
    assert run.changed and run.result["syncworks"]["deleted"] == 1, run.result
    assert run.result["clusters"]["member1"]["deleted"] == 0, run.result  # nothing deleted on the member
    after = member.read_namespaced_service_account("default", ns)
    assert after.metadata.uid == own.metadata.uid  # the member's own object, never re-created
    assert not set(marks) & set(after.metadata.labels or {}), after.metadata.labels
    assert "tmc.kcp.io/source" not in (after.metadata.annotations or {}), after.metadata.annotations
    with pytest.raises(ApiException) as gone:
        custom.get_namespaced_custom_object(GROUP, VERSION, home, "syncworks", legacy["metadata"]["name"])
    assert gone.value.status == 404
    again = sync(bed, ns)
    assert not again.changed, again.result


def test_retain_replicas_leaves_the_count_to_each_member(registered, hub_api_client, member_api_clients, shop):
    """``retainReplicas`` set on a placement that already runs: each member keeps the count it has
    (no reset to the API server's default of 1), and a count a member's user sets by hand stays."""
    bed, ns = registered, shop
    create_placement(hub_api_client, ns)
    sync(bed, ns)
    running = {c: member_deployment(member_api_clients, c, ns) for c in bed.members}
    assert {c: d.spec.replicas for c, d in running.items()} == dict.fromkeys(bed.members, 2)
    retain = {"spec": {"replicaScheduling": {"retainReplicas": True}}}
    custom = client.CustomObjectsApi(hub_api_client)
    custom.patch_namespaced_custom_object(GROUP, VERSION, ns, "workloadplacements", "web", retain)
    sync(bed, ns)
    for cluster in bed.members:  # the hub no longer says how many: the SyncWork leaves the count out
        work = custom.get_namespaced_custom_object(
            GROUP, VERSION, f"tmc-cluster-{cluster}", "syncworks", f"deployment.{ns}.web"
        )["spec"]
        assert "replicas" not in work["manifest"]["spec"] and work["initialReplicas"] == 2, work
    kept = {c: member_deployment(member_api_clients, c, ns) for c in bed.members}
    assert {c: d.spec.replicas for c, d in kept.items()} == dict.fromkeys(bed.members, 2)
    # never reset in between: a count set to 1 and back would have moved the generation
    assert {c: d.metadata.generation for c, d in kept.items()} == {c: d.metadata.generation for c, d in running.items()}
    owners = {
        c: {e.manager for e in d.metadata.managed_fields if "f:replicas" in (e.fields_v1 or {}).get("f:spec", {})}
        for c, d in kept.items()
    }
    assert owners == dict.fromkeys(bed.members, {"tmc-initial-replicas"}), owners
    client.AppsV1Api(member_api_clients["member1"]).patch_namespaced_deployment_scale(
        "web", ns, {"spec": {"replicas": 5}}
    )
    scaled = member_deployment(member_api_clients, "member1", ns)
    checked = sync(bed, ns, check=True)
    assert not checked.changed, checked.result
    again = sync(bed, ns)
    assert not again.changed, again.result
    after = {c: member_deployment(member_api_clients, c, ns) for c in bed.members}
    assert {c: d.spec.replicas for c, d in after.items()} == {"member1": 5, "member2": 2, "member3": 2}
    assert after["member1"].metadata.generation == scaled.metadata.generation
