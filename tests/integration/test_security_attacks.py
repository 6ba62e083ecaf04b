"""Attacks on tenant isolation, each performed end to end on the testbed (issue 17, docs/concepts/security.md).

Every attack runs twice: with the hub role's admission policies, where the hub's API server must
refuse it, and with the policies' bindings removed, where the controller's own rules must leave
other teams and clusters untouched. Tenants act by impersonation, syncers with their own tokens.
"""

from __future__ import annotations

import copy
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from . import security_fleet as shared
from .ansible_cli import run_module
from .security import GROUP, VERSION, AllowedKinds, api_client, status_of, wait_for
from .security_fleet import condition, custom, deployment, placement, unique, works_of

fleet, guard = shared.fleet, shared.guard  # the module's fixtures


def untrusted_seen(controller) -> float:
    _status, text = controller.get("/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("tmc_untrusted_objects_total{")
    )


@pytest.fixture(scope="module")
def web(fleet, hub_api_client, member_api_clients):
    """team-a's Deployment ``web`` placed on member1 and available there; team-b's ``shop`` on member1 too."""
    tenants = fleet["tenants"]
    alice, bob = tenants.as_("alice"), tenants.as_("bob")
    selector = {"matchLabels": {"name": "member1"}}
    custom(alice).create_namespaced_custom_object(
        GROUP,
        VERSION,
        tenants.a,
        "workloadplacements",
        placement("web", {"clusterSelector": selector, "resources": [{"group": "apps", "kind": "Deployment"}]}),
    )
    custom(bob).create_namespaced_custom_object(
        GROUP,
        VERSION,
        tenants.b,
        "workloadplacements",
        placement("shop", {"clusterSelector": selector, "resources": [{"group": "apps", "kind": "Deployment"}]}),
    )
    client.AppsV1Api(alice).create_namespaced_deployment(tenants.a, deployment("web"))
    client.AppsV1Api(bob).create_namespaced_deployment(tenants.b, deployment("shop"))
    apps = client.AppsV1Api(hub_api_client)
    for ns, name in ((tenants.a, "web"), (tenants.b, "shop")):
        wait_for(
            f"{ns}/{name} available through member1",
            lambda n=ns, w=name: (apps.read_namespaced_deployment_status(w, n).status.available_replicas or 0) == 2,
            timeout=120,
        )
    return {"a": tenants.a, "b": tenants.b}


ONE_HEALTHY_ON_MEMBER1 = [{"cluster": "member1", "applied": 1, "available": 1, "degraded": 0}]


def team_b_summary(hub_api, ns):
    wp = custom(hub_api).get_namespaced_custom_object(GROUP, VERSION, ns, "workloadplacements", "shop")
    return (wp.get("status") or {}).get("summary")


# ------------------------------------------------------------------ class 1: cluster-scoped and privileged kinds


def test_a_tenant_cannot_place_cluster_scoped_kinds(fleet, guard, hub_api_client, member_api_clients):
    tenants = fleet["tenants"]
    name = unique("crb")
    body = placement(name, {"resources": [{"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding"}]})

    def create():
        return custom(tenants.as_("alice")).create_namespaced_custom_object(
            GROUP, VERSION, tenants.a, "workloadplacements", body
        )

    if guard == "admission":
        with pytest.raises(ApiException) as refused:
            create()
        assert refused.value.status == 403 and "tmc-placement-kinds" in refused.value.body
        assert "rbac.authorization.k8s.io/ClusterRoleBinding" in refused.value.body
        return
    create()
    wp = wait_for(
        "the controller to refuse the placement",
        lambda: (lambda got: got if (condition(got, "Scheduled") or {}).get("reason") == "InvalidPlacement" else None)(
            custom(hub_api_client).get_namespaced_custom_object(GROUP, VERSION, tenants.a, "workloadplacements", name)
        ),
    )
    message = condition(wp, "Scheduled")["message"]
    assert "spec.resources[0]" in message and "ClusterRoleBinding" in message
    assert not [w for w in works_of(hub_api_client, tenants.a) if w["spec"]["source"]["kind"] == "ClusterRoleBinding"]
    for name_, member in member_api_clients.items():
        managed = client.RbacAuthorizationV1Api(member).list_cluster_role_binding(label_selector="tmc.kcp.io/managed")
        assert not managed.items, name_


def test_an_allow_list_naming_a_cluster_scoped_kind_still_places_none(fleet, guard, hub_api_client):
    """The platform admin lists Namespace by mistake: the controller refuses it as cluster-scoped."""
    if guard == "admission":
        pytest.skip("the controller's own rule: the admission policy trusts the admin's allow-list")
    tenants = fleet["tenants"]
    with AllowedKinds(hub_api_client, tenants.a, ("", "Namespace")):
        name = unique("ns")
        custom(tenants.as_("alice")).create_namespaced_custom_object(
            GROUP, VERSION, tenants.a, "workloadplacements", placement(name, {"resources": [{"kind": "Namespace"}]})
        )
        wp = wait_for(
            "the controller to refuse a cluster-scoped kind",
            lambda: (
                lambda got: got if "cluster-scoped" in (condition(got, "Scheduled") or {}).get("message", "") else None
            )(
                custom(hub_api_client).get_namespaced_custom_object(
                    GROUP, VERSION, tenants.a, "workloadplacements", name
                )
            ),
            timeout=60,
        )
        assert "spec.resources[0]" in condition(wp, "Scheduled")["message"]
        assert not [w for w in works_of(hub_api_client, tenants.a) if w["spec"]["source"]["kind"] == "Namespace"]


def test_an_override_cannot_make_a_binding_cluster_admin(fleet, guard, web, hub_api_client, member_api_clients):
    """The admin allows Role and RoleBinding; a tenant admin's override points a binding at cluster-admin."""
    tenants = fleet["tenants"]
    ada = tenants.as_("ada")
    rbac = client.RbacAuthorizationV1Api(ada)
    suffix = unique("r")
    labels = {"rbac-test": suffix}
    group = "rbac.authorization.k8s.io"
    with AllowedKinds(hub_api_client, tenants.a, (group, "Role"), (group, "RoleBinding")):
        rbac.create_namespaced_role(
            tenants.a,
            {
                "metadata": {"name": f"reader-{suffix}", "labels": labels},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
            },
        )
        rbac.create_namespaced_role_binding(
            tenants.a,
            {
                "metadata": {"name": f"readers-{suffix}", "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"reader-{suffix}"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "readers"}],
            },
        )
        spec = {
            "workloadSelector": {"matchLabels": labels},
            "clusterSelector": {"matchLabels": {"name": "member1"}},
            "resources": [
                {"group": "rbac.authorization.k8s.io", "kind": "Role"},
                {"group": "rbac.authorization.k8s.io", "kind": "RoleBinding"},
            ],
            "overrides": [
                {"clusters": ["member1"], "mergePatch": {"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}}}
            ],
        }

        def create():
            return custom(ada).create_namespaced_custom_object(
                GROUP, VERSION, tenants.a, "workloadplacements", placement(f"rbac-{suffix}", spec)
            )

        if guard == "admission":
            with pytest.raises(ApiException) as refused:
                create()
            assert refused.value.status == 403 and "tmc-placement-overrides" in refused.value.body
            return
        create()
        # Once decided (Scheduled, after the controller read the longer allow-list), nothing of it is placed:
        # the override would add a roleRef to each object it selects.
        wait_for(
            "the placement decided",
            lambda: (
                (
                    condition(
                        custom(hub_api_client).get_namespaced_custom_object(
                            GROUP, VERSION, tenants.a, "workloadplacements", f"rbac-{suffix}"
                        ),
                        "Scheduled",
                    )
                    or {}
                ).get("status")
                == "True"
            ),
        )
        assert not [w for w in works_of(hub_api_client, tenants.a) if suffix in w["spec"]["source"]["name"]]
        for member in member_api_clients.values():
            bindings = client.RbacAuthorizationV1Api(member).list_role_binding_for_all_namespaces().items
            assert not [
                b for b in bindings if b.role_ref.name == "cluster-admin" and b.metadata.name.startswith("readers")
            ]


# ------------------------------------------------------------------ class 2: status from the wrong place


def test_tenants_never_write_or_read_syncworks(fleet, guard, web):
    tenants = fleet["tenants"]
    work = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SyncWork",
        "metadata": {"name": "x"},
        "spec": {
            "cluster": "member1",
            "source": {"apiVersion": "v1", "kind": "ConfigMap", "namespace": tenants.a, "name": "x"},
            "manifest": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": tenants.a}},
        },
    }
    for user in ("alice", "ada", "vic", "bob"):
        objects = custom(tenants.as_(user))
        for ns in (tenants.a, tenants.b, "tmc-cluster-member1"):
            assert (
                status_of(
                    lambda n=ns, o=objects: o.create_namespaced_custom_object(GROUP, VERSION, n, "syncworks", work)
                )
                == 403
            )
            assert (
                status_of(lambda n=ns, o=objects: o.list_namespaced_custom_object(GROUP, VERSION, n, "syncworks"))
                == 403
            )


def test_a_forged_syncwork_feeds_no_status(fleet, guard, web, hub_api_client):
    """A SyncWork outside a cluster namespace claims team-a's web is degraded with 100 replicas."""
    tenants, controller = fleet["tenants"], fleet["controller"]
    genuine = next(w for w in works_of(hub_api_client, tenants.a) if w["spec"]["source"]["name"] == "web")
    forged = copy.deepcopy(genuine)
    forged["metadata"] = {"name": genuine["metadata"]["name"], "labels": genuine["metadata"]["labels"]}
    forged_status = {"applied": True, "available": False, "downstreamStatus": {"replicas": 100, "availableReplicas": 0}}
    objects = custom(hub_api_client)  # the platform admin stands in for a tenant whose RBAC was widened by mistake
    seen = untrusted_seen(controller)

    def create():
        return objects.create_namespaced_custom_object(GROUP, VERSION, tenants.b, "syncworks", forged)

    if guard == "admission":
        with pytest.raises(ApiException) as refused:
            create()
        assert "tmc-syncwork-location" in refused.value.body
        return
    create()
    try:
        objects.patch_namespaced_custom_object_status(
            GROUP, VERSION, tenants.b, "syncworks", forged["metadata"]["name"], {"status": forged_status}
        )
        wait_for("the controller to report the forged SyncWork", lambda: untrusted_seen(controller) > seen)
        status = client.AppsV1Api(hub_api_client).read_namespaced_deployment_status("web", tenants.a).status
        assert status.available_replicas == 2 and status.replicas == 2
        assert team_b_summary(hub_api_client, tenants.b) == ONE_HEALTHY_ON_MEMBER1
    finally:
        objects.delete_namespaced_custom_object(GROUP, VERSION, tenants.b, "syncworks", forged["metadata"]["name"])


def test_a_syncer_cannot_speak_for_another_team_or_cluster(fleet, guard, web, hub_api_client):
    """member1's syncer relabels its SyncWork of team-a's web as team-b's and reports 100 replicas."""
    tenants, controller = fleet["tenants"], fleet["controller"]
    syncer = custom(api_client(fleet["syncer_kubeconfigs"]["member1"]))
    genuine = next(w for w in works_of(hub_api_client, tenants.a) if w["spec"]["source"]["name"] == "web")
    name = genuine["metadata"]["name"]
    # Another cluster's namespace: RBAC refuses whatever the admission policies say.
    assert (
        status_of(lambda: syncer.list_namespaced_custom_object(GROUP, VERSION, "tmc-cluster-member2", "syncworks"))
        == 403
    )
    assert (
        status_of(
            lambda: syncer.delete_namespaced_custom_object(GROUP, VERSION, "tmc-cluster-member1", "syncworks", name)
        )
        == 403
    )
    relabel = {
        "metadata": {"labels": {"tmc.kcp.io/source-namespace": tenants.b, "tmc.kcp.io/placement": "shop"}},
        "spec": {"source": {**genuine["spec"]["source"], "namespace": tenants.b}, "placement": "shop"},
    }
    seen = untrusted_seen(controller)

    def patch():
        return syncer.patch_namespaced_custom_object(GROUP, VERSION, "tmc-cluster-member1", "syncworks", name, relabel)

    if guard == "admission":
        with pytest.raises(ApiException) as refused:
            patch()
        assert "ValidatingAdmissionPolicy 'tmc-" in refused.value.body
        # Its labels alone (the spec left as it is): the syncer policy refuses.
        with pytest.raises(ApiException) as refused:
            syncer.patch_namespaced_custom_object(
                GROUP, VERSION, "tmc-cluster-member1", "syncworks", name, {"metadata": relabel["metadata"]}
            )
        assert "tmc-syncer-writes" in refused.value.body
        return
    patch()
    wait_for("the controller to report the relabelled SyncWork", lambda: untrusted_seen(controller) > seen)
    # The controller writes its SyncWork back as it was, and team-b's summary never counts it.
    wait_for(
        "the SyncWork restored",
        lambda: (
            custom(hub_api_client).get_namespaced_custom_object(
                GROUP, VERSION, "tmc-cluster-member1", "syncworks", name
            )["metadata"]["labels"]["tmc.kcp.io/source-namespace"]
            == tenants.a
        ),
        timeout=120,
    )
    assert team_b_summary(hub_api_client, tenants.b) == ONE_HEALTHY_ON_MEMBER1
    status = client.AppsV1Api(hub_api_client).read_namespaced_deployment_status("web", tenants.a).status
    assert status.available_replicas == 2


# ------------------------------------------------------------------ class 5: Secrets


def _registration(hub_api, name):
    return custom(hub_api).get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", name)


def _member_secret(member_api, ns, name):
    try:
        return client.CoreV1Api(member_api).read_namespaced_secret(name, ns)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def test_a_placed_secret_travels_sealed_and_no_value_shows_anywhere(
    fleet, hub_api_client, member_api_clients, tmp_path
):
    """team-a places a Secret on member1: the member gets it, and its value is in no SyncWork, event,
    log, module result or -vvv output; vic (view) reads it by no route; a key rotation re-seals it."""
    import base64
    import secrets as random_secrets

    from .ansible_cli import run_playbook

    tenants = fleet["tenants"]
    value = f"s3cret-{random_secrets.token_hex(12)}"
    encoded = base64.b64encode(value.encode()).decode()
    name = unique("db")
    alice = tenants.as_("alice")
    client.CoreV1Api(alice).create_namespaced_secret(
        tenants.a, {"metadata": {"name": name, "labels": {"app": name}}, "stringData": {"password": value}}
    )
    custom(alice).create_namespaced_custom_object(
        GROUP,
        VERSION,
        tenants.a,
        "workloadplacements",
        placement(
            name,
            {
                "workloadSelector": {"matchLabels": {"app": name}},
                "resources": [{"kind": "Secret"}],
                "clusterSelector": {"matchLabels": {"name": "member1"}},
            },
        ),
    )
    member = member_api_clients["member1"]
    got = wait_for("the Secret on member1", lambda: _member_secret(member, tenants.a, name), timeout=120)
    assert got.data == {"password": encoded}

    # The SyncWork holds a sealed block for member1's published key, and no value.
    work = next(w for w in works_of(hub_api_client, tenants.a) if w["spec"]["source"]["name"] == name)
    published = _registration(hub_api_client, "member1")["status"]["sealing"]
    assert work["spec"]["sealed"]["recipient"] == published["keyID"]
    assert "data" not in work["spec"]["manifest"] and "stringData" not in work["spec"]["manifest"]

    def nowhere(text, where):
        assert value not in text and encoded not in text, f"the Secret's value shows in {where}"

    everything = json.dumps(custom(hub_api_client).list_cluster_custom_object(GROUP, VERSION, "syncworks"))
    nowhere(everything, "a SyncWork")
    nowhere(
        json.dumps(client.CoreV1Api(hub_api_client).list_event_for_all_namespaces().to_dict(), default=str), "an event"
    )
    for log in fleet["logs"].glob("*.log"):
        nowhere(log.read_text(errors="replace"), log.name)

    # vic (view in team-a) reads it by no route.
    vic = tenants.as_("vic")
    for attempt in (
        lambda: client.CoreV1Api(vic).read_namespaced_secret(name, tenants.a),
        lambda: client.CoreV1Api(vic).list_namespaced_secret(tenants.a),
        lambda: custom(vic).list_cluster_custom_object(GROUP, VERSION, "syncworks"),
        lambda: custom(vic).list_namespaced_custom_object(GROUP, VERSION, "tmc-cluster-member1", "syncworks"),
    ):
        assert status_of(attempt) == 403

    # Module results and -vvv: a check-mode diff of the Secret, and the workspace view.
    playbook = tmp_path / "secret.yml"
    playbook.write_text(
        f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - tmc.multicluster.manifest_apply:
        kubeconfig: {fleet["bed"].kubeconfig("hub", direct=True)}
        definitions:
          - apiVersion: v1
            kind: Secret
            metadata: {{name: {name}, namespace: {tenants.a}}}
            stringData: {{password: "{value}-changed"}}
      check_mode: true
      diff: true
    - tmc.multicluster.workload_info:
        kubeconfig: {fleet["bed"].kubeconfig("hub", direct=True)}
        namespace: {tenants.a}
"""
    )
    run = run_playbook(playbook, verbosity=3)
    assert run.returncode == 0, run.stdout[-3000:]
    nowhere(run.stdout + run.stderr, "ansible-playbook -vvv output")

    # Rotation: member1's syncer makes a new key, the controller seals again, the member keeps the value.
    rotate = run_module(
        "cluster_registration",
        {
            "kubeconfig": str(fleet["bed"].kubeconfig("hub", direct=True)),
            "name": "member1",
            "sync_mode": "Pull",
            "labels": {"env": "test", "name": "member1"},
            "location": fleet["bed"].state["clusters"]["member1"]["region"],
            "rotate_sealing_key": True,
            "member": {"kubeconfig": str(fleet["bed"].kubeconfig("member1", direct=True))},
        },
    )
    assert rotate.changed and not rotate.failed, rotate.output
    new_key = wait_for(
        "a new key published",
        lambda: (lambda k: k if k and k != published["keyID"] else None)(
            (_registration(hub_api_client, "member1").get("status") or {}).get("sealing", {}).get("keyID")
        ),
        timeout=150,
    )
    wait_for(
        "the Secret sealed again to the new key",
        lambda: (
            next(w for w in works_of(hub_api_client, tenants.a) if w["spec"]["source"]["name"] == name)["spec"][
                "sealed"
            ]["recipient"]
            == new_key
        ),
    )
    client.CoreV1Api(alice).patch_namespaced_secret(name, tenants.a, {"stringData": {"password": value + "-2"}})
    wait_for(
        "the new value on member1",
        lambda: (
            _member_secret(member, tenants.a, name).data
            == {"password": base64.b64encode((value + "-2").encode()).decode()}
        ),
        timeout=120,
    )
