"""The permission matrix of docs/concepts/security.md, cell by cell, as real requests on the testbed.

Each identity acts as itself: tenants by impersonation (the API server authorizes the impersonated
user), the syncers with the hub tokens cluster_registration made for them, the controller and the
member syncer with tokens of the ServiceAccounts the controller and syncer roles (kubernetes runtime)
create. Writes are server-side dry runs: they pass RBAC and admission exactly as a real write would,
and change nothing. A cell is allowed when the API server answers with success (or 404 for a name
that does not exist: authorized, nothing there); denied when it answers 403, or 422 from an
admission policy.
"""

from __future__ import annotations

import json
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from hack.testbed import HUB

from ..security_matrix import GROUP, MATRIX
from .ansible_cli import run_module, run_playbook
from .security import Tenants, api_client, wait_for

GROUPS = ("tmc.kcp.io", "v1alpha1")


def _token_client(kubeconfig, namespace, service_account) -> client.ApiClient:
    """A client with a fresh token of ``namespace/service_account`` (TokenRequest), the API server's CA."""
    admin = api_client(kubeconfig)
    token = (
        client.CoreV1Api(admin)
        .create_namespaced_service_account_token(service_account, namespace, {"spec": {"expirationSeconds": 3600}})
        .status.token
    )
    configuration = client.Configuration()
    configuration.host = admin.configuration.host
    configuration.ssl_ca_cert = admin.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


@pytest.fixture(scope="module")
def identities(tmc_hub, hub_api_client, member_api_clients, tmp_path_factory):
    bed = tmc_hub
    work = tmp_path_factory.mktemp("matrix")
    hub_kubeconfig = bed.kubeconfig(HUB, direct=True)
    member_kubeconfig = bed.kubeconfig("member1", direct=True)
    tenants = Tenants(hub_api_client, hub_kubeconfig).create()
    syncer_kubeconfigs = {}
    for name in ("member1", "member2"):
        dest = work / f"{name}-syncer.kubeconfig"
        run = run_module(
            "cluster_registration",
            {
                "kubeconfig": str(hub_kubeconfig),
                "name": name,
                "sync_mode": "Pull",
                "syncer_kubeconfig_dest": str(dest),
                "member": {"kubeconfig": str(bed.kubeconfig(name, direct=True))},
            },
        )
        assert not run.failed, run.output
        syncer_kubeconfigs[name] = dest
    playbook = work / "identities.yml"
    playbook.write_text(
        f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The controller's identity on the hub (kubernetes runtime; the hub runs no pods)
      ansible.builtin.include_role:
        name: tmc.multicluster.controller
      vars:
        tmc_runtime: kubernetes
        tmc_controller_state: "{{{{ state }}}}"
        tmc_hub_kubeconfig: {hub_kubeconfig}
        tmc_controller_namespaces: [{tenants.a}, {tenants.b}]
    - name: member1's syncer identity on member1 (kubernetes runtime)
      ansible.builtin.include_role:
        name: tmc.multicluster.syncer
      vars:
        tmc_runtime: kubernetes
        tmc_syncer_state: "{{{{ state }}}}"
        tmc_syncer_cluster_name: member1
        tmc_syncer_hub_kubeconfig: {syncer_kubeconfigs["member1"]}
        tmc_syncer_member_kubeconfig: {member_kubeconfig}
"""
    )
    run = run_playbook(playbook, extra_vars={"state": "present"})
    assert run.returncode == 0, run.stdout + run.stderr
    core = client.CoreV1Api(member_api_clients["member1"])
    suffix = uuid.uuid4().hex[:5]
    managed, unmanaged = f"tmc-managed-{suffix}", f"unmanaged-{suffix}"
    core.create_namespace({"metadata": {"name": managed, "labels": {"tmc.kcp.io/managed": "true"}}})
    core.create_namespace({"metadata": {"name": unmanaged}})
    # A placement and a SyncWork of each cluster to aim the object-level cells at.
    custom = client.CustomObjectsApi(hub_api_client)
    custom.create_namespaced_custom_object(*GROUPS, tenants.a, "workloadplacements", _placement("matrix"))
    works = {}
    for name in ("member1", "member2"):
        body = _syncwork(tenants.a, name, f"matrix-{suffix}")
        works[name] = custom.create_namespaced_custom_object(*GROUPS, f"tmc-cluster-{name}", "syncworks", body)
    clients = {
        "tenant-view": tenants.as_("vic"),
        "tenant-edit": tenants.as_("alice"),
        "tenant-admin": tenants.as_("ada"),
        "other-tenant": tenants.as_("bob"),
        "syncer-1": api_client(syncer_kubeconfigs["member1"]),
        "syncer-2": api_client(syncer_kubeconfigs["member2"]),
        "controller": _token_client(hub_kubeconfig, "tmc-system", "tmc-controller"),
        "member-syncer": _token_client(member_kubeconfig, "tmc-system", "tmc-syncer-member1"),
    }
    places = {
        "a": tenants.a,
        "b": tenants.b,
        "m": managed,
        "u": unmanaged,
        "placement_a": "matrix",
        "work_1": works["member1"]["metadata"]["name"],
        "work_2": works["member2"]["metadata"]["name"],
    }
    # The member's admission policy for the syncer was (re)created just now: the API server enforces a new
    # policy once its informer has it. Wait until it refuses the syncer a Deployment in kube-system.
    probe = ("POST", "/apis/apps/v1/namespaces/kube-system/deployments", _bodies(places)["deployment"])
    wait_for(
        "the member's admission policy to hold the syncer",
        lambda: not _outcome(*perform(clients["member-syncer"], *probe)),
        timeout=60,
    )
    try:
        yield {"clients": clients, "places": places, "tenants": tenants}
    finally:
        for name, work_ in works.items():
            _remove_syncwork(custom, f"tmc-cluster-{name}", work_["metadata"]["name"])
        run_playbook(playbook, extra_vars={"state": "absent"})
        for ns in (managed, unmanaged):
            core.delete_namespace(ns)
        tenants.delete()


def _remove_syncwork(custom, namespace, name):
    try:
        custom.patch_namespaced_custom_object(*GROUPS, namespace, "syncworks", name, {"metadata": {"finalizers": None}})
        custom.delete_namespaced_custom_object(*GROUPS, namespace, "syncworks", name)
    except ApiException as err:
        if err.status != 404:
            raise


def _placement(name):
    return {"apiVersion": GROUP, "kind": "WorkloadPlacement", "metadata": {"name": name}, "spec": {}}


def _syncwork(namespace, cluster, name):
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}
    return {
        "apiVersion": GROUP,
        "kind": "SyncWork",
        "metadata": {"name": f"configmap.{namespace}.{name}", "labels": {"tmc.kcp.io/source-namespace": namespace}},
        "spec": {
            "cluster": cluster,
            "source": {"apiVersion": "v1", "kind": "ConfigMap", "namespace": namespace, "name": name},
            "manifest": manifest,
        },
    }


def _bodies(places: dict) -> dict:
    a = places["a"]
    workload = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "matrix"},
        "spec": {
            "selector": {"matchLabels": {"app": "matrix"}},
            "template": {
                "metadata": {"labels": {"app": "matrix"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    return {
        "placement": _placement("matrix-probe"),
        "syncwork_a": {**_syncwork(a, "member1", "probe"), "metadata": {"name": "probe"}},
        "syncwork_1": _syncwork(a, "member1", "probe"),
        "syncwork_2": _syncwork(a, "member2", "probe"),
        "registration": {
            "apiVersion": GROUP,
            "kind": "ClusterRegistration",
            "metadata": {"name": "matrix-probe"},
            "spec": {"syncMode": "Pull"},
        },
        "rolebinding": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "matrix-probe"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "someone"}],
        },
        "policy": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "tmc-policy", "namespace": "tmc-system"},
            "data": {"allowedKinds": "rbac.authorization.k8s.io/ClusterRoleBinding"},
        },
        "relabel": {"metadata": {"labels": {"tmc.kcp.io/source-namespace": places["b"]}}},
        "work_status": {"status": {"applied": True, "available": True}},
        "creg_status": {"status": {"kubernetesVersion": "v0.0.0-matrix"}},
        "wp_status": {"status": {"observedGeneration": 1}},
        "lease": {"spec": {"leaseDurationSeconds": 40}},
        "deployment": workload,
        "secret": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "matrix-probe"}, "data": {"k": "dg=="}},
        "managed_namespace": {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "matrix-probe", "labels": {"tmc.kcp.io/managed": "true"}},
        },
        "namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "matrix-probe"}},
        "clusterrolebinding": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "matrix-probe"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "someone"}],
        },
        "pod": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "matrix-probe"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        },
    }


METHODS = {
    "get": "GET",
    "list": "GET",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "status": "PATCH",
    "delete": "DELETE",
}


def perform(api: client.ApiClient, method: str, path: str, body) -> tuple[int, str]:
    """One request as the client's identity; (HTTP status, body) however it ends."""
    dry = [("dryRun", "All")] if method != "GET" else []
    headers = {
        "Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json",
        "Accept": "application/json",
    }
    serialized = api.param_serialize(
        method, path, query_params=dry, header_params=headers, body=body, auth_settings=["BearerToken"]
    )
    try:
        response = api.call_api(*serialized, _request_timeout=30)
    except ApiException as err:
        return err.status, err.body if isinstance(err.body, str) else str(err.body)
    response.read()
    return response.status, (response.data or b"").decode(errors="replace")


def _outcome(status: int, text: str) -> bool:
    if status in (200, 201, 202, 404):
        return True
    if status == 403 or (status == 422 and "ValidatingAdmissionPolicy" in text):
        return False
    raise AssertionError(f"the request itself is wrong (HTTP {status}): {text[:500]}")


@pytest.mark.parametrize("cell", MATRIX, ids=[c.id for c in MATRIX])
def test_every_cell_of_the_matrix_holds(identities, cell):
    places = identities["places"]
    path = cell.path.format(**places)
    body = json.loads(json.dumps(_bodies(places)[cell.body])) if cell.body else None
    status, text = perform(identities["clients"][cell.identity], METHODS[cell.verb], path, body)
    allowed = _outcome(status, text)
    assert allowed == cell.allowed, f"{cell.id}: HTTP {status} {text[:300]}"


def test_the_matrix_covers_every_identity():
    from ..security_matrix import IDENTITIES

    assert {c.identity for c in MATRIX} == set(IDENTITIES)
    assert len(MATRIX) >= 100
