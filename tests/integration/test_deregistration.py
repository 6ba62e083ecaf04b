"""Deregistration keeps its promise while the controller and the syncer run (issue 18).

``drain: false``: every object TMC placed stays on the member (same UID: never deleted and
re-created), released from TMC (no ``tmc.kcp.io/`` label or annotation, no ``tmc-syncer`` field
ownership), and stays after the syncer is stopped. ``drain: true``: the objects go, and so do the
namespaces TMC created on the member. In pull mode the module is not given the member: the running
syncer does the member's part; in push mode the module uses the credentials stored on the hub.
The oracle is the member API server itself, read with the official client.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from hack.testbed import HUB

from .ansible_cli import deregister_members, hub_args, labelled_for, run_module
from .daemons import Daemon

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
TMC = "tmc.kcp.io/"


def wait_for(what, check, timeout=120.0, interval=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def member_opts(bed, name):
    return {"kubeconfig": str(bed.kubeconfig(name, direct=True))}


def deregister(bed, name, drain, member=False, check=False):
    args = hub_args(bed, name=name, state="absent", drain=drain, drain_timeout=90)
    if member:
        args["member"] = member_opts(bed, name)
    return run_module("cluster_registration", args, check=check)


@pytest.fixture(scope="module")
def bed(tmc_hub):
    deregister_members(tmc_hub)
    return tmc_hub


@pytest.fixture(scope="module")
def controller(bed, tmp_path_factory):
    logs = tmp_path_factory.mktemp("dereg-controller")
    daemon = Daemon(
        "controller",
        [
            "controller",
            "--kubeconfig",
            str(bed.kubeconfig(HUB, direct=True)),
            "--leader-elect",
            "false",
            "--cluster-selector",
            "dereg-test=true",
        ],
        logs,
    ).start()
    daemon.wait_ready()
    yield daemon
    daemon.stop()


def start_syncer(bed, name, kubeconfig, logs) -> Daemon:
    daemon = Daemon(
        f"syncer-{name}-{uuid.uuid4().hex[:4]}",
        [
            "syncer",
            "--cluster-name",
            name,
            "--kubeconfig",
            str(kubeconfig),
            "--downstream-kubeconfig",
            str(bed.kubeconfig(name, direct=True)),
            "--heartbeat-interval",
            "1",
        ],
        logs,
    ).start()
    daemon.wait_ready()
    return daemon


def register(bed, name, mode, tmp_path):
    dest = tmp_path / f"{name}-syncer.kubeconfig"
    run = run_module(
        "cluster_registration",
        hub_args(
            bed,
            name=name,
            sync_mode=mode,
            heartbeat=mode == "Push",
            labels={"dereg-test": "true", "dereg-cluster": name},
            member=member_opts(bed, name),
            syncer_kubeconfig_dest=str(dest),
        ),
    )
    assert not run.failed, run.output
    return dest


def app(hub_api, ns, cluster):
    """A namespace on the hub with a Deployment, a ConfigMap and a Service, placed onto ``cluster``."""
    core, apps = client.CoreV1Api(hub_api), client.AppsV1Api(hub_api)
    core.create_namespace({"metadata": {"name": ns}})
    labels = {"app": "shop"}
    core.create_namespaced_config_map(ns, {"metadata": {"name": "shop", "labels": labels}, "data": {"k": "v"}})
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "shop", "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "x:1"}]}},
            },
        },
    )
    core.create_namespaced_service(
        ns, {"metadata": {"name": "shop", "labels": labels}, "spec": {"selector": labels, "ports": [{"port": 80}]}}
    )
    client.CustomObjectsApi(hub_api).create_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        "workloadplacements",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "WorkloadPlacement",
            "metadata": {"name": "shop"},
            "spec": {
                "workloadSelector": {"matchLabels": labels},
                "clusterSelector": {"matchLabels": {"dereg-test": "true", "dereg-cluster": cluster}},
            },
        },
    )
    return [("ConfigMap", "shop"), ("Deployment", "shop"), ("Service", "shop")]


def read(member_api, kind, ns, name):
    try:
        if kind == "Deployment":
            obj = client.AppsV1Api(member_api).read_namespaced_deployment(name, ns)
        elif kind == "ConfigMap":
            obj = client.CoreV1Api(member_api).read_namespaced_config_map(name, ns)
        else:
            obj = client.CoreV1Api(member_api).read_namespaced_service(name, ns)
    except ApiException as err:
        if err.status == 404:
            return None
        raise
    return member_api.sanitize_for_serialization(obj)


def uids(member_api, ns, objects):
    found = {kind: read(member_api, kind, ns, name) for kind, name in objects}
    return {kind: obj["metadata"]["uid"] if obj else None for kind, obj in found.items()}


def tmc_marks(obj):
    meta = obj["metadata"]
    marks = [k for k in {**(meta.get("labels") or {}), **(meta.get("annotations") or {})} if k.startswith(TMC)]
    marks += [f"managedFields:{m['manager']}" for m in meta.get("managedFields") or [] if m["manager"] == "tmc-syncer"]
    return marks


def namespace(member_api, ns):
    try:
        return client.CoreV1Api(member_api).read_namespace(ns)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def cleanup_hub(hub_api, ns):
    try:
        client.CoreV1Api(hub_api).delete_namespace(ns)
    except ApiException as err:
        if err.status != 404:
            raise


def gone_from_hub(hub_api, name):
    objects = client.CustomObjectsApi(hub_api)
    with pytest.raises(ApiException) as err:
        objects.get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", name)
    assert err.value.status == 404
    assert namespace(hub_api, f"tmc-cluster-{name}") is None
    for read_it in (
        lambda: client.CoreV1Api(hub_api).read_namespaced_secret(f"cluster-{name}-credentials", "tmc-system"),
        lambda: client.CoordinationV1Api(hub_api).read_namespaced_lease(f"cluster-{name}", "tmc-system"),
        lambda: client.RbacAuthorizationV1Api(hub_api).read_cluster_role(f"tmc-syncer-{name}"),
    ):
        with pytest.raises(ApiException) as err:
            read_it()
        assert err.value.status == 404


def kubectl_objects(bed, cluster, ns):
    """The member's Deployments, ConfigMaps (but kube-root-ca.crt) and Services in ``ns``, read by kubectl."""
    cmd = [str(Path(bed.state["bin_dir"]) / "kubectl"), "--kubeconfig", str(bed.kubeconfig(cluster, direct=True))]
    run = subprocess.run(
        [*cmd, "get", "deployments,configmaps,services", "-n", ns, "--show-managed-fields", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return [o for o in json.loads(run.stdout)["items"] if o["metadata"]["name"] != "kube-root-ca.crt"]


def placed(member_api, ns, objects):
    return all(read(member_api, kind, ns, name) for kind, name in objects)


def test_pull_drain_false_keeps_every_object_while_the_daemons_run(
    bed, controller, hub_api_client, member_api_clients, tmp_path
):
    name, member = "member1", member_api_clients["member1"]
    ns = f"dereg-{uuid.uuid4().hex[:6]}"
    syncer = start_syncer(bed, name, register(bed, name, "Pull", tmp_path), tmp_path)
    try:
        objects = app(hub_api_client, ns, name)
        wait_for("the app on the member", lambda: placed(member, ns, objects))
        before = uids(member, ns, objects)
        assert namespace(member, ns).metadata.annotations.get("tmc.kcp.io/created-namespace") == "true"

        check = deregister(bed, name, drain=False, check=True)
        assert not check.failed and check.changed, check.output
        assert uids(member, ns, objects) == before

        run = deregister(bed, name, drain=False)
        assert not run.failed, run.output
        assert run.result["drain"]["by"] == "syncer" and run.result["drain"]["downstream_deleted"] == 0
        gone_from_hub(hub_api_client, name)
        assert uids(member, ns, objects) == before, "no object deleted (or deleted and re-created)"
        for kind, obj_name in objects:
            assert tmc_marks(read(member, kind, ns, obj_name)) == [], f"{kind} still carries TMC's marks"
        wait_for(
            "the namespace TMC created released (the syncer settles it after the last SyncWork)",
            lambda: not any(k.startswith(TMC) for k in (namespace(member, ns).metadata.labels or {})),
        )
        assert syncer.running
    finally:
        syncer.stop()
    assert uids(member, ns, objects) == before, "the objects stay after the syncer stopped"
    again = deregister(bed, name, drain=False)
    assert not again.failed and not again.changed, again.result
    cleanup_hub(hub_api_client, ns)
    wait_for("the hub namespace gone (the controller has seen it)", lambda: namespace(hub_api_client, ns) is None)
    assert uids(member, ns, objects) == before, "the controller keeps its hands off a deregistered cluster"
    # The same, read by kubectl: the objects as the member's owner sees them, none of them TMC's.
    seen = kubectl_objects(bed, name, ns)
    assert {(o["kind"], o["metadata"]["uid"]) for o in seen} == {(kind, before[kind]) for kind, _manifest in objects}
    assert [tmc_marks(o) for o in seen] == [[]] * len(objects)


def test_pull_drain_true_removes_the_objects_and_the_namespaces_tmc_created(
    bed, controller, hub_api_client, member_api_clients, tmp_path
):
    name, member = "member2", member_api_clients["member2"]
    ns = f"dereg-{uuid.uuid4().hex[:6]}"
    syncer = start_syncer(bed, name, register(bed, name, "Pull", tmp_path), tmp_path)
    try:
        objects = app(hub_api_client, ns, name)
        wait_for("the app on the member", lambda: placed(member, ns, objects))
        run = deregister(bed, name, drain=True)
        assert not run.failed, run.output
        assert run.result["drain"]["by"] == "syncer"
        gone_from_hub(hub_api_client, name)
        wait_for("objects gone", lambda: not any(uids(member, ns, objects).values()))
        wait_for("the namespace TMC created gone", lambda: namespace(member, ns) is None)
    finally:
        syncer.stop()
        cleanup_hub(hub_api_client, ns)


@pytest.mark.parametrize("drain", [False, True])
def test_push_deregistration_with_the_controller_running(
    bed, controller, hub_api_client, member_api_clients, tmp_path, drain
):
    name, member = "member3", member_api_clients["member3"]
    ns = f"dereg-{uuid.uuid4().hex[:6]}"
    register(bed, name, "Push", tmp_path)
    objects = app(hub_api_client, ns, name)
    try:

        def sync():
            return run_module("workload_sync", hub_args(bed, namespace=ns))

        wait_for("the controller's SyncWorks", lambda: len(works_of(hub_api_client, name, ns)) == 3)
        first = sync()
        assert not first.failed, first.output
        wait_for("the app on the member", lambda: placed(member, ns, objects))
        before = uids(member, ns, objects)
        marked = labelled_for(bed, name)  # the app's three, and whatever else is still labelled for the cluster
        assert {f"{kind}/{ns}/{obj_name}" for kind, obj_name in objects} <= set(marked), marked

        run = deregister(bed, name, drain=drain)  # no 'member': the stored push credentials reach it
        assert not run.failed, run.output
        assert run.result["drain"]["by"] == "module"
        gone_from_hub(hub_api_client, name)
        after = sync()  # a push-mode pass after deregistration touches nothing there
        assert not after.failed, after.output
        if drain:
            assert run.result["drain"]["downstream_deleted"] == len(marked), run.result
            assert not any(uids(member, ns, objects).values())
            assert ns in run.result["drain"]["namespaces_deleted"]
            wait_for("the namespace TMC created gone", lambda: namespace(member, ns) is None)
        else:
            assert run.result["drain"]["orphaned"] == len(marked), run.result
            assert uids(member, ns, objects) == before
            for kind, obj_name in objects:
                assert tmc_marks(read(member, kind, ns, obj_name)) == []
        assert labelled_for(bed, name) == [], "nothing stays labelled for a deregistered cluster"
    finally:
        cleanup_hub(hub_api_client, ns)
        # Gone before the next case registers the cluster again: a placement still there would select it
        # again, and that case's drain would rightly delete this case's (released) objects too.
        wait_for("the hub namespace gone", lambda: namespace(hub_api_client, ns) is None)


def works_of(hub_api, cluster, source_ns):
    items = client.CustomObjectsApi(hub_api).list_namespaced_custom_object(
        GROUP, VERSION, f"tmc-cluster-{cluster}", "syncworks"
    )["items"]
    return [w for w in items if w["spec"]["manifest"]["metadata"].get("namespace") == source_ns]
