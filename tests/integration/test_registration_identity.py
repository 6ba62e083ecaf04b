"""A member is registered once; a failed registration leaves nothing; switching modes leaves no credentials.

The member's identity is the UID of its kube-system namespace, read here with the official client
(the oracle); the hub's objects are read the same way.
"""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .ansible_cli import hub_args, run_module
from .daemons import Daemon
from .test_deregistration import wait_for

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"


def member_opts(bed, name, direct=True):
    return {"kubeconfig": str(bed.kubeconfig(name, direct=direct))}


def register(bed, name, member_of=None, **extra):
    member = member_opts(bed, member_of or name, direct=extra.pop("direct", True))
    return run_module("cluster_registration", hub_args(bed, name=name, member=member, **extra))


def deregister(bed, name):
    run = run_module("cluster_registration", hub_args(bed, name=name, state="absent", drain=False))
    assert not run.failed, run.output


def registration(hub_api, name):
    try:
        return client.CustomObjectsApi(hub_api).get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", name)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def kube_system_uid(api_client):
    return client.CoreV1Api(api_client).read_namespace("kube-system").metadata.uid


def exists(read):
    try:
        read()
        return True
    except ApiException as err:
        if err.status == 404:
            return False
        raise


def hub_objects_of(hub_api, name):
    """Which of the objects a registration of ``name`` makes exist on the hub."""
    core, rbac = client.CoreV1Api(hub_api), client.RbacAuthorizationV1Api(hub_api)
    ns = f"tmc-cluster-{name}"
    checks = {
        "Namespace": lambda: core.read_namespace(ns),
        "ServiceAccount": lambda: core.read_namespaced_service_account("syncer", ns),
        "Role": lambda: rbac.read_namespaced_role(f"tmc-syncer-{name}", "tmc-system"),
        "RoleBinding": lambda: rbac.read_namespaced_role_binding(f"tmc-syncer-{name}", "tmc-system"),
        "ClusterRole": lambda: rbac.read_cluster_role(f"tmc-syncer-{name}"),
        "Lease": lambda: client.CoordinationV1Api(hub_api).read_namespaced_lease(f"cluster-{name}", "tmc-system"),
        "Secret": lambda: core.read_namespaced_secret(f"cluster-{name}-credentials", "tmc-system"),
    }
    found = {kind for kind, read in checks.items() if exists(read)}
    return found | ({"ClusterRegistration"} if registration(hub_api, name) else set())


@pytest.fixture(scope="module")
def bed(tmc_hub):
    for name in [*tmc_hub.members, "again", "ghost", "rolled"]:
        deregister(tmc_hub, name)
    return tmc_hub


def test_the_identity_is_recorded_on_both_sides(bed, hub_api_client, member_api_clients):
    run = register(bed, "member1")
    assert not run.failed, run.output
    uid = kube_system_uid(member_api_clients["member1"])
    assert run.result["cluster_id"] == uid
    assert registration(hub_api_client, "member1")["status"]["clusterID"] == uid
    record = client.CoreV1Api(member_api_clients["member1"]).read_namespaced_config_map(
        "tmc-cluster-properties", "tmc-system"
    )
    assert record.data["cluster.clusterset.k8s.io"] == uid
    assert record.data["registration.tmc.kcp.io"] == "member1"
    assert record.data["clusterset.k8s.io"] == kube_system_uid(hub_api_client)
    assert not register(bed, "member1").changed, "registering again changes nothing"


def test_the_same_member_under_a_second_name_is_refused_naming_the_first(bed, hub_api_client):
    assert not register(bed, "member1").failed
    # Through its proxy: another URL, the same cluster.
    again = register(bed, "again", member_of="member1", direct=False)
    assert again.failed
    assert "already registered as ClusterRegistration 'member1'" in again.result["msg"], again.result["msg"]
    assert hub_objects_of(hub_api_client, "again") == set(), "nothing was created"


def test_take_over_moves_the_member_to_a_new_name_in_one_step(bed, hub_api_client, member_api_clients):
    assert not register(bed, "member1").failed
    moved = register(bed, "again", member_of="member1", take_over=True)
    assert not moved.failed, moved.output
    assert "ClusterRegistration/member1 (taken over: deregistered, drain false)" in moved.result["changes"]
    assert registration(hub_api_client, "member1") is None
    assert hub_objects_of(hub_api_client, "member1") == set(), "the old registration left nothing"
    uid = kube_system_uid(member_api_clients["member1"])
    assert registration(hub_api_client, "again")["status"]["clusterID"] == uid
    record = client.CoreV1Api(member_api_clients["member1"]).read_namespaced_config_map(
        "tmc-cluster-properties", "tmc-system"
    )
    assert record.data["registration.tmc.kcp.io"] == "again"
    back = register(bed, "member1", take_over=True)
    assert not back.failed, back.output
    assert registration(hub_api_client, "again") is None


def test_re_pointing_a_registration_at_another_member_is_refused_unless_rekeyed(
    bed, hub_api_client, member_api_clients
):
    assert not register(bed, "member2").failed
    before = registration(hub_api_client, "member2")
    moved = register(bed, "member2", member_of="member3")
    assert moved.failed
    assert "ClusterRegistration 'member2'" in moved.result["msg"] and "rekey: true" in moved.result["msg"]
    after = registration(hub_api_client, "member2")
    assert after["spec"] == before["spec"] and after["status"]["clusterID"] == before["status"]["clusterID"]

    rekeyed = register(bed, "member2", member_of="member3", rekey=True)
    assert not rekeyed.failed, rekeyed.output
    assert registration(hub_api_client, "member2")["status"]["clusterID"] == kube_system_uid(
        member_api_clients["member3"]
    )
    # member3's own registration would now be a second one of that cluster: refused, naming member2.
    third = register(bed, "member3")
    assert third.failed and "'member2'" in third.result["msg"]
    back = register(bed, "member2", rekey=True)  # and back again (a rekey is a real migration both ways)
    assert not back.failed, back.output
    assert not register(bed, "member3").failed, "member3's record naming member2 is stale now"


def test_a_registration_the_hub_refuses_creates_nothing(bed, hub_api_client):
    refused = run_module(
        "cluster_registration", hub_args(bed, name="ghost", sync_mode="Pull", endpoint="http://not-https.example:6443")
    )
    assert refused.failed
    assert "spec.endpoint" in refused.result["msg"] and "nothing was created" in refused.result["msg"]
    assert hub_objects_of(hub_api_client, "ghost") == set()


def test_a_registration_failing_half_way_rolls_back_what_it_created(bed, hub_api_client):
    rbac = client.RbacAuthorizationV1Api(hub_api_client)
    # A binding in the way: its roleRef cannot be changed, so the run fails after it created the rest.
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "tmc-syncer-rolled"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "someone", "namespace": "default"}],
        }
    )
    try:
        failed = run_module(
            "cluster_registration", hub_args(bed, name="rolled", sync_mode="Pull", endpoint="https://10.9.9.9:6443")
        )
        assert failed.failed
        assert "rolled back what this run had created" in failed.result["msg"], failed.result["msg"]
        assert "Namespace/tmc-cluster-rolled" in failed.result["msg"]
        wait_for("the namespace gone", lambda: "Namespace" not in hub_objects_of(hub_api_client, "rolled"))
        assert hub_objects_of(hub_api_client, "rolled") == set()
        assert rbac.read_cluster_role_binding("tmc-syncer-rolled").role_ref.name == "view", "not ours: kept"
    finally:
        rbac.delete_cluster_role_binding("tmc-syncer-rolled")


def test_push_to_pull_deletes_the_stored_credentials_and_pull_to_push_asks_for_them(bed, hub_api_client):
    assert not register(bed, "member3").failed
    assert "Secret" in hub_objects_of(hub_api_client, "member3")
    pull = register(bed, "member3", sync_mode="Pull")
    assert not pull.failed and pull.changed, pull.output
    assert "Secret/cluster-member3-credentials" in pull.result["changes"]
    assert "Secret" not in hub_objects_of(hub_api_client, "member3")
    assert "credentialsSecretRef" not in registration(hub_api_client, "member3")["spec"]
    push = run_module("cluster_registration", hub_args(bed, name="member3", sync_mode="Push"))
    assert push.failed
    assert "registered in Pull mode" in push.result["msg"] and "give 'member'" in push.result["msg"]
    assert registration(hub_api_client, "member3")["spec"]["syncMode"] == "Pull", "nothing changed"


def test_the_syncer_reports_the_identity_and_the_controller_flags_a_second_registration(
    bed, hub_api_client, member_api_clients, tmp_path
):
    """Pull mode without the member's credentials: the hub cannot see the member, its syncer can."""
    assert not register(bed, "member1").failed
    dest = tmp_path / "ghost-syncer.kubeconfig"
    blind = run_module(
        "cluster_registration", hub_args(bed, name="ghost", sync_mode="Pull", syncer_kubeconfig_dest=str(dest))
    )
    assert not blind.failed, blind.output
    argv = ["--kubeconfig", str(bed.kubeconfig("hub", direct=True)), "--heartbeat-threshold", "6"]
    controller = Daemon("controller", ["controller", *argv, "--leader-elect", "false"], tmp_path).start()
    syncer = Daemon(
        "ghost-syncer",
        [
            "syncer",
            "--cluster-name",
            "ghost",
            "--kubeconfig",
            str(dest),
            "--downstream-kubeconfig",
            str(bed.kubeconfig("member1", direct=True)),
            "--heartbeat-interval",
            "1",
        ],
        tmp_path,
    ).start()
    try:
        uid = kube_system_uid(member_api_clients["member1"])
        wait_for("the reported identity", lambda: (registration(hub_api_client, "ghost")["status"]).get("clusterID"))
        assert registration(hub_api_client, "ghost")["status"]["clusterID"] == uid

        def flagged():
            status = registration(hub_api_client, "ghost")["status"]
            conflict = [c for c in status.get("conditions") or [] if c["type"] == "IdentityConflict"]
            taints = [t for t in status.get("taints") or [] if t["key"] == "tmc.kcp.io/identity-conflict"]
            return conflict and conflict[0]["status"] == "True" and "member1" in conflict[0]["message"] and taints

        wait_for("the controller's flag", flagged)
        first = registration(hub_api_client, "member1")["status"]
        assert not any(c["type"] == "IdentityConflict" for c in first.get("conditions") or []), "the older one keeps it"
        wait_for("the syncer standing down", lambda: "IdentityConflict" in syncer.log_path.read_text())
    finally:
        syncer.stop()
        controller.stop()
        deregister(bed, "ghost")


def test_a_syncer_pointed_at_another_member_stands_down(bed, hub_api_client, member_api_clients, tmp_path):
    """It acts on nothing and publishes nothing: not even a sealing key of its own (status.sealing stays as
    it was; a published key would have member2's Secrets sealed to member3's syncer)."""
    dest = tmp_path / "member2-syncer.kubeconfig"
    assert not register(bed, "member2", sync_mode="Pull", syncer_kubeconfig_dest=str(dest)).failed
    sealing_before = registration(hub_api_client, "member2")["status"].get("sealing")
    syncer = Daemon(
        "wrong-syncer",
        [
            "syncer",
            "--cluster-name",
            "member2",
            "--kubeconfig",
            str(dest),
            "--downstream-kubeconfig",
            str(bed.kubeconfig("member3", direct=True)),
            "--heartbeat-interval",
            "1",
            "--sealing-key-file",
            str(tmp_path / "wrong-syncer-sealing.key"),  # a key of its own, which it would publish
        ],
        tmp_path,
    ).start()
    try:
        wait_for(
            "the mismatch in its log", lambda: "is not the cluster registered as member2" in syncer.log_path.read_text()
        )
        status = registration(hub_api_client, "member2")["status"]
        assert status["clusterID"] == kube_system_uid(member_api_clients["member2"]), "not overwritten"
        assert status.get("sealing") == sealing_before, "a mis-pointed syncer published a sealing key"
        assert not (tmp_path / "wrong-syncer-sealing.key").exists(), "it made a key for a cluster it is not"
    finally:
        syncer.stop()
