"""The platform admin narrows the tenant allow-list after placements used a kind (issue 17, class 1).

What a user expects, checked on the testbed with the hub's admission policies and without them
(the controller's own rules): narrowing moves nothing (no workload on a member is deleted, the
kinds still allowed keep syncing), the placement says which kinds are no longer allowed and that
they are no longer synced (condition KindsAllowed, readable with kubectl), and deleting the
placement removes every SyncWork it made, those of the refused kinds and the cluster-scoped ones an
older version left too.
"""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from . import security_fleet as shared
from .security import GROUP, VERSION, AllowedKinds, wait_for
from .security_fleet import condition, custom, deployment, placement, unique

fleet, guard = shared.fleet, shared.guard  # the module's fixtures

PDB = ("policy", "PodDisruptionBudget")
CLUSTER_NS = "tmc-cluster-member1"


def pdb(name, labels, min_available=1):
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "labels": labels},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": labels}},
    }


def placement_works(hub_api, name):
    """Every SyncWork on the hub that names placement ``name`` (any cluster namespace)."""
    items = custom(hub_api).list_cluster_custom_object(
        GROUP, VERSION, "syncworks", label_selector=f"tmc.kcp.io/placement={name}"
    )["items"]
    return {(w["spec"]["source"]["kind"], w["spec"]["source"]["name"]): w for w in items}


def read_placement(hub_api, namespace, name):
    return custom(hub_api).get_namespaced_custom_object(GROUP, VERSION, namespace, "workloadplacements", name)


def member_object(read):
    try:
        return read()
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise


def test_narrowing_the_allow_list_moves_nothing_and_the_placement_says_so(
    fleet, guard, hub_api_client, member_api_clients
):
    tenants = fleet["tenants"]
    alice = tenants.as_("alice")
    name = unique("narrow")
    labels = {"narrow": name}
    member = member_api_clients["member1"]

    def member_pdb():
        return member_object(lambda: client.PolicyV1Api(member).read_namespaced_pod_disruption_budget(name, tenants.a))

    def member_deploy():
        return member_object(lambda: client.AppsV1Api(member).read_namespaced_deployment(name, tenants.a))

    widened = AllowedKinds(hub_api_client, tenants.a, PDB).__enter__()
    try:
        client.AppsV1Api(alice).create_namespaced_deployment(
            tenants.a, {**deployment(name), "metadata": {"name": name, "labels": labels}}
        )
        client.PolicyV1Api(alice).create_namespaced_pod_disruption_budget(tenants.a, pdb(name, labels))
        spec = {
            "workloadSelector": {"matchLabels": labels},
            "clusterSelector": {"matchLabels": {"name": "member1"}},
            "resources": [{"group": "apps", "kind": "Deployment"}, {"group": "policy", "kind": "PodDisruptionBudget"}],
        }
        custom(alice).create_namespaced_custom_object(
            GROUP, VERSION, tenants.a, "workloadplacements", placement(name, spec)
        )
        wait_for("the Deployment and the PDB on member1", lambda: member_pdb() and member_deploy(), timeout=120)
    finally:
        widened.__exit__(None, None, None)  # the platform admin takes PodDisruptionBudget off the allow-list

    before = member_pdb()
    work_before = placement_works(hub_api_client, name)[("PodDisruptionBudget", name)]

    def refused_placement():
        got = read_placement(hub_api_client, tenants.a, name)
        return got if (condition(got, "KindsAllowed") or {}).get("status") == "False" else None

    wp = wait_for(
        "the placement to say PodDisruptionBudget is no longer allowed",
        refused_placement,
        timeout=60,
    )
    allowed = condition(wp, "KindsAllowed")
    assert allowed["reason"] == "KindsNotAllowed"
    assert "policy/PodDisruptionBudget" in allowed["message"] and "not synced" in allowed["message"]
    assert "apps/Deployment" not in allowed["message"]
    assert condition(wp, "Scheduled")["status"] == "True"  # the placement still places what is allowed

    # The tenant may still edit the placement (the admission policy keeps the kinds it listed before) but not add
    # another kind the allow-list does not hold.
    custom(alice).patch_namespaced_custom_object(
        GROUP, VERSION, tenants.a, "workloadplacements", name, {"metadata": {"labels": {"edited": "yes"}}}
    )
    if guard == "admission":
        more = {"spec": {"resources": [*spec["resources"], {"kind": "ServiceAccount"}]}}
        with pytest.raises(ApiException) as refused:
            custom(alice).patch_namespaced_custom_object(GROUP, VERSION, tenants.a, "workloadplacements", name, more)
        assert refused.value.status == 403 and "ServiceAccount" in refused.value.body
        assert "PodDisruptionBudget" not in refused.value.body.split("allows")[0]

    # The PDB changes on the hub, then the Deployment: the Deployment's change reaches member1, the PDB's does not.
    client.PolicyV1Api(alice).patch_namespaced_pod_disruption_budget(name, tenants.a, {"spec": {"minAvailable": 2}})
    client.AppsV1Api(alice).patch_namespaced_deployment(name, tenants.a, {"spec": {"replicas": 1}})
    wait_for("the Deployment's change on member1", lambda: member_deploy().spec.replicas == 1, timeout=60)
    work_after = placement_works(hub_api_client, name)[("PodDisruptionBudget", name)]
    assert work_after["metadata"]["generation"] == work_before["metadata"]["generation"]
    assert work_after["spec"]["manifest"]["spec"]["minAvailable"] == 1
    after = member_pdb()
    assert after is not None and after.metadata.uid == before.metadata.uid and after.spec.min_available == 1

    # The placement goes: every SyncWork it made goes, the refused kind's too, and what they placed on member1.
    custom(alice).delete_namespaced_custom_object(GROUP, VERSION, tenants.a, "workloadplacements", name)
    wait_for("no SyncWork of the placement left", lambda: not placement_works(hub_api_client, name), timeout=90)
    wait_for("member1's copies removed", lambda: member_pdb() is None and member_deploy() is None, timeout=90)


def legacy_work(name, placement_name):
    """A SyncWork as a version before issue 17 wrote it for a ClusterRole a tenant placed: no source namespace."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SyncWork",
        "metadata": {
            "name": f"clusterrole.{name}",
            "labels": {
                "tmc.kcp.io/cluster": "member1",
                "tmc.kcp.io/placement": placement_name,
                "tmc.kcp.io/source-kind": "ClusterRole",
                "tmc.kcp.io/source-name": name,
            },
            "finalizers": ["tmc.kcp.io/syncer"],
        },
        "spec": {
            "cluster": "member1",
            "placement": placement_name,
            "deletionPolicy": "Delete",
            "source": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": name},
            "manifest": {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name},
                "rules": [],
            },
        },
    }


def member_cluster_role(name):
    """The ClusterRole an older version's syncer made on member1 from such a SyncWork (TMC's marks on it)."""
    return {
        "metadata": {
            "name": name,
            "labels": {"tmc.kcp.io/managed": "true", "tmc.kcp.io/cluster": "member1"},
            "annotations": {"tmc.kcp.io/source": f"/{name}/"},
        },
        "rules": [],
    }


def test_a_cluster_scoped_syncwork_an_older_version_left_goes_with_its_placement(
    fleet, guard, hub_api_client, member_api_clients
):
    """The fleet's syncers use the member's admin kubeconfig: the ClusterRole goes too (a least-privilege
    syncer may not touch cluster-scoped objects; not covered here)."""
    tenants = fleet["tenants"]
    gone, kept = unique("legacy"), unique("legacy")
    member_rbac = client.RbacAuthorizationV1Api(member_api_clients["member1"])
    member_rbac.create_cluster_role(member_cluster_role(gone))
    hub = custom(hub_api_client)
    nothing = {"workloadSelector": {"matchLabels": {"selects": "nothing"}}}
    custom(tenants.as_("alice")).create_namespaced_custom_object(
        GROUP, VERSION, tenants.a, "workloadplacements", placement(gone, nothing)
    )
    custom(tenants.as_("bob")).create_namespaced_custom_object(
        GROUP, VERSION, tenants.b, "workloadplacements", placement(kept, nothing)
    )
    for name in (gone, kept):
        hub.create_namespaced_custom_object(GROUP, VERSION, CLUSTER_NS, "syncworks", legacy_work(name, name))

    custom(tenants.as_("alice")).delete_namespaced_custom_object(GROUP, VERSION, tenants.a, "workloadplacements", gone)
    wait_for("the deleted placement's leftover SyncWork removed", lambda: not placement_works(hub_api_client, gone))
    wait_for(
        "its ClusterRole removed from member1",
        lambda: member_object(lambda: member_rbac.read_cluster_role(gone)) is None,
    )
    assert ("ClusterRole", kept) in placement_works(hub_api_client, kept)  # its placement is still there: it stays

    custom(tenants.as_("bob")).delete_namespaced_custom_object(GROUP, VERSION, tenants.b, "workloadplacements", kept)
    wait_for("the second leftover removed with its placement", lambda: not placement_works(hub_api_client, kept))
