"""cluster_registration and cluster_info on the real testbed."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from hack.testbed import HUB

from .ansible_cli import deregister_members, hub_args, labelled_for, run_module, run_playbook

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"


def member_opts(bed, name):
    return {"kubeconfig": str(bed.kubeconfig(name, direct=True))}


def register(bed, name, check=False, diff=False, **extra):
    args = hub_args(bed, name=name, member=member_opts(bed, name), **extra)
    return run_module("cluster_registration", args, check=check, diff=diff)


def info(bed, **extra):
    run = run_module("cluster_info", hub_args(bed, **extra))
    assert not run.failed, run.output
    return {c["name"]: c for c in run.result["clusters"]}


def registration(hub_api_client, name):
    try:
        return client.CustomObjectsApi(hub_api_client).get_cluster_custom_object(
            GROUP, VERSION, "clusterregistrations", name
        )
    except ApiException as err:
        if err.status == 404:
            return None
        raise


@pytest.fixture(scope="module", autouse=True)
def no_registrations(tmc_hub):
    """Start from a hub with no registered cluster (an attached testbed may have some)."""
    deregister_members(tmc_hub)


def test_register_check_real_repeat(tmc_hub, hub_api_client, tmp_path):
    bed = tmc_hub
    dest = tmp_path / "member1-syncer.kubeconfig"
    opts = {"location": "us-east", "labels": {"tier": "prod"}, "syncer_kubeconfig_dest": str(dest)}
    check = register(bed, "member1", check=True, **opts)
    assert not check.failed, check.output
    assert check.changed
    assert registration(hub_api_client, "member1") is None, "check mode must not create"
    assert not dest.exists()

    real = register(bed, "member1", diff=True, **opts)
    assert not real.failed, real.output
    assert real.changed
    assert real.result["member"]["version"] == "v1.36.3"
    assert real.result["member"]["allocatable"] == {"cpu": "48", "memory": "192Gi", "pods": "1500"}
    # The callback prints the diff (and takes it out of the result).
    assert "+++ after" in real.output and '"location": "us-east"' in real.output
    reg = registration(hub_api_client, "member1")
    assert reg["metadata"]["labels"] == {"tier": "prod"}
    assert reg["status"]["kubernetesVersion"] == "v1.36.3"
    assert reg["spec"]["credentialsSecretRef"] == {"name": "cluster-member1-credentials", "namespace": "tmc-system"}
    assert dest.stat().st_mode & 0o777 == 0o600
    assert json.loads(dest.read_text())["contexts"][0]["context"]["namespace"] == "tmc-cluster-member1"

    repeat = register(bed, "member1", **opts)
    assert not repeat.failed and not repeat.changed, repeat.result.get("changes")
    assert not register(bed, "member1", check=True, **opts).changed


# A loaded machine (CI with other jobs) can take longer than the default 40 s threshold between a
# heartbeat renewal and the cluster_info that reads it; the cordon tests read with this one.
SLOW_MACHINE = {"heartbeat_threshold": 600, "eviction_timeout": 600}


def view_with_fresh_heartbeat(bed, name, timeout=900.0, **opts):
    """cluster_info's view of ``name`` read while its heartbeat is fresh: renewed (cluster_registration
    heartbeat: true, with ``opts``) right before the read. A read that still comes after the threshold
    is honestly not Ready: renew and read again, until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        renewed = register(bed, name, heartbeat=True, **opts)
        assert not renewed.failed and renewed.result["heartbeat_renewed"], renewed.output
        view = info(bed, name=name, **SLOW_MACHINE)[name]
        if view["ready"]:
            return view
        assert view["heartbeat_age_seconds"] >= 600, f"{name} not Ready with a fresh heartbeat: {view}"
        assert time.monotonic() < deadline, f"{name} never read with a fresh heartbeat in {timeout}s: {view}"


def cordon_taints(view):
    return [t for t in view["taints"] if t["key"] == "tmc.kcp.io/unschedulable"]


def test_heartbeat_makes_clusters_ready_and_cordon_shows(tmc_hub):
    bed = tmc_hub
    where = {name: bed.state["clusters"][name]["region"] for name in bed.members}
    for name in bed.members:
        run = register(bed, name, heartbeat=True, location=where[name])
        assert not run.failed, run.output
        assert run.result["health"]["ready"] is True and run.result["health"]["status"] == "True"
    clusters = info(bed, **SLOW_MACHINE)
    assert {n for n, c in clusters.items() if c["ready"] is True} >= set(bed.members)
    assert all(isinstance(c["ready"], bool) and c["ready"] == (c["ready_status"] == "True") for c in clusters.values())
    member2 = view_with_fresh_heartbeat(bed, "member2", location="us-west")
    assert member2["ready"] is True and member2["ready_status"] == "True" and member2["schedulable"]
    assert member2["location"] == "us-west"
    assert member2["capacity"]["cpu"] == "24"
    assert member2["heartbeat_age_seconds"] < 600

    cordon = register(bed, "member2", unschedulable=True, location="us-west")
    assert cordon.changed
    clusters = info(bed, **SLOW_MACHINE)
    assert clusters["member2"]["cordoned"] and not clusters["member2"]["schedulable"]
    assert [t["effect"] for t in cordon_taints(clusters["member2"])] == ["NoSchedule"]
    assert not clusters["member3"]["cordoned"] and cordon_taints(clusters["member3"]) == []
    assert set(info(bed, location="us-west")) == {"member2"}
    # Still cordoned with a fresh heartbeat: the cordon alone keeps it unschedulable.
    assert not view_with_fresh_heartbeat(bed, "member2", location="us-west", unschedulable=True)["schedulable"]
    assert register(bed, "member2", unschedulable=False, location="us-west").changed
    uncordoned = info(bed, name="member2", **SLOW_MACHINE)["member2"]
    assert not uncordoned["cordoned"] and cordon_taints(uncordoned) == []
    assert view_with_fresh_heartbeat(bed, "member2", location="us-west")["schedulable"]


def test_cluster_info_filters_by_labels(tmc_hub):
    bed = tmc_hub
    register(bed, "member3", labels={"tier": "dev"}, location="eu-central")
    dev = info(bed, label_selector="tier=dev")
    assert set(dev) == {"member3"}
    assert "member3" not in info(bed, label_selector="tier=prod")


def _syncer_client(bed, dest):
    from kubernetes import config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(dest), client_configuration=configuration)
    return client.ApiClient(configuration)


def test_syncer_identity_is_least_privilege(tmc_hub, hub_api_client, tmp_path):
    bed = tmc_hub
    dests = {}
    for name in ("member1", "member2"):
        dests[name] = tmp_path / f"{name}.kubeconfig"
        run = register(bed, name, syncer_kubeconfig_dest=str(dests[name]))
        assert not run.failed, run.output
    with _syncer_client(bed, dests["member1"]) as api:
        objects = client.CustomObjectsApi(api)
        objects.list_namespaced_custom_object(GROUP, VERSION, "tmc-cluster-member1", "syncworks")
        for call in (
            lambda: objects.list_namespaced_custom_object(GROUP, VERSION, "tmc-cluster-member2", "syncworks"),
            lambda: client.CoreV1Api(api).list_namespaced_secret("tmc-system"),
            lambda: client.CoreV1Api(api).list_namespaced_secret("tmc-cluster-member1"),
            lambda: client.CoreV1Api(api).list_namespaced_secret("default"),
            lambda: client.CoordinationV1Api(api).read_namespaced_lease("cluster-member2", "tmc-system"),
            lambda: objects.get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", "member2"),
        ):
            with pytest.raises(ApiException) as err:
                call()
            assert err.value.status == 403
        # What it may do: its own Lease and its own registration.
        client.CoordinationV1Api(api).read_namespaced_lease("cluster-member1", "tmc-system")
        objects.get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", "member1")


def _member_token(bed, member):
    """A bearer token for a member admin ServiceAccount (so the test knows the secret to look for)."""
    from kubernetes import config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(bed.kubeconfig(member, direct=True)), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
        name = "tmc-push"
        try:
            core.create_namespaced_service_account("kube-system", {"metadata": {"name": name}})
            rbac.create_cluster_role_binding(
                {
                    "metadata": {"name": name},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "kube-system"}],
                }
            )
        except ApiException as err:
            if err.status != 409:
                raise
        return core.create_namespaced_service_account_token(name, "kube-system", {"spec": {}}).status.token


def test_credentials_never_appear_in_verbose_output(tmc_hub, hub_api_client, tmp_path):
    bed = tmc_hub
    token = _member_token(bed, "member3")
    dest = tmp_path / "member3-syncer.kubeconfig"
    playbook = tmp_path / "register.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Register with a bearer token",
                            "register": "out",
                            "tmc.multicluster.cluster_registration": {
                                "kubeconfig": str(bed.kubeconfig(HUB, direct=True)),
                                "name": "member3",
                                "location": "eu-central",
                                "syncer_kubeconfig_dest": str(dest),
                                "member": {
                                    "host": bed.server("member3"),
                                    "api_key": token,
                                    "ca_cert": str(bed.dir / "pki" / "ca.crt"),
                                },
                            },
                        },
                        {"name": "Show the result", "ansible.builtin.debug": {"var": "out"}},
                    ],
                }
            ]
        )
    )
    run = run_playbook(playbook, verbosity=3)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    syncer_token = json.loads(dest.read_text())["users"][0]["user"]["token"]
    for secret in (token, syncer_token):
        assert secret not in run.stdout and secret not in run.stderr
    # The token really was stored for push mode, on the hub, in the credentials Secret.
    stored = client.CoreV1Api(hub_api_client).read_namespaced_secret("cluster-member3-credentials", "tmc-system")
    kubeconfig = json.loads(base64.b64decode(stored.data["kubeconfig"]))
    assert kubeconfig["users"][0]["user"]["token"] == token


def test_bad_input_says_what_to_fix(tmc_hub):
    bed = tmc_hub
    bad_name = run_module("cluster_registration", hub_args(bed, name="Member_1", member=member_opts(bed, "member1")))
    assert bad_name.failed and "name: 'Member_1' is not a DNS label" in bad_name.result["msg"]
    bad_taint = run_module(
        "cluster_registration",
        hub_args(bed, name="member1", member=member_opts(bed, "member1"), taints=[{"key": "x", "effect": "Sometimes"}]),
    )
    assert bad_taint.failed and "effect" in bad_taint.result["msg"]
    no_member = run_module("cluster_registration", hub_args(bed, name="ghost"))
    assert no_member.failed and "member" in no_member.result["msg"]
    assert registration_absent(bed, "ghost")


def registration_absent(bed, name):
    return name not in info(bed)


def _syncwork(cluster, manifest, policy="Delete"):
    name = f"{manifest['kind'].lower()}-{manifest['metadata']['name']}"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SyncWork",
        "metadata": {"name": name, "namespace": f"tmc-cluster-{cluster}", "finalizers": ["tmc.kcp.io/syncer"]},
        "spec": {
            "cluster": cluster,
            "manifest": manifest,
            "deletionPolicy": policy,
            "source": {
                "apiVersion": "v1",
                "kind": manifest["kind"],
                "namespace": manifest["metadata"]["namespace"],  # a SyncWork's object stays in its source's namespace
                "name": manifest["metadata"]["name"],
                "uid": str(uuid.uuid4()),
                "generation": 1,
            },
        },
    }


def _place_configmap(bed, hub_api_client, member_api_clients, cluster, ns, name):
    """A SyncWork on the hub and the object it stands for on the member (as the syncer applies it)."""
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"tmc.kcp.io/managed": "true", "tmc.kcp.io/cluster": cluster},
        },
        "data": {"k": "v"},
    }
    core = client.CoreV1Api(member_api_clients[cluster])
    try:
        core.create_namespace({"metadata": {"name": ns}})
    except ApiException as err:
        if err.status != 409:
            raise
    core.create_namespaced_config_map(ns, manifest)
    client.CustomObjectsApi(hub_api_client).create_namespaced_custom_object(
        GROUP, VERSION, f"tmc-cluster-{cluster}", "syncworks", _syncwork(cluster, manifest)
    )


def _configmap_exists(member_api, ns, name):
    try:
        client.CoreV1Api(member_api).read_namespaced_config_map(name, ns)
        return True
    except ApiException as err:
        if err.status == 404:
            return False
        raise


@pytest.mark.parametrize("drain", [True, False])
def test_deregister_drains_or_orphans(tmc_hub, hub_api_client, member_api_clients, drain):
    bed = tmc_hub
    cluster = "member1" if drain else "member2"
    assert not register(bed, cluster).failed
    ns = f"dereg-{uuid.uuid4().hex[:6]}"
    _place_configmap(bed, hub_api_client, member_api_clients, cluster, ns, "app-config")
    args = hub_args(bed, name=cluster, state="absent", drain=drain, member=member_opts(bed, cluster))

    marked = len(labelled_for(bed, cluster))  # this ConfigMap, and whatever an earlier test left labelled
    assert marked >= 1
    check = run_module("cluster_registration", args, check=True)
    assert check.changed and check.result["drain"]["works_deleted"] == 1
    assert registration(hub_api_client, cluster) is not None

    run = run_module("cluster_registration", args)
    assert not run.failed, run.output
    assert run.changed
    counts = {k: run.result["drain"][k] for k in ("works_deleted", "downstream_deleted", "orphaned")}
    assert counts == (
        {"works_deleted": 1, "downstream_deleted": marked, "orphaned": 0}
        if drain
        else {"works_deleted": 1, "downstream_deleted": 0, "orphaned": marked}
    )
    assert labelled_for(bed, cluster) == [], "nothing stays labelled for a deregistered cluster"
    assert run.result["drain"]["by"] == "module"
    # The test made the namespace, not TMC: it stays either way.
    assert ns not in run.result["drain"]["namespaces_deleted"]
    assert _configmap_exists(member_api_clients[cluster], ns, "app-config") is (not drain)
    assert registration(hub_api_client, cluster) is None
    namespaces = {n.metadata.name for n in client.CoreV1Api(hub_api_client).list_namespace().items}
    assert f"tmc-cluster-{cluster}" not in namespaces
    with pytest.raises(ApiException) as err:
        client.RbacAuthorizationV1Api(hub_api_client).read_cluster_role(f"tmc-syncer-{cluster}")
    assert err.value.status == 404

    again = run_module("cluster_registration", args)
    assert not again.failed and not again.changed, again.result
    # Register again for the tests that follow.
    assert not register(bed, cluster).failed
