"""The tenant rules as the engine enforces them (render.policy, render.untrusted_reason).

The hub's admission policies hold the same rules (tests/integration/test_security_admission.py);
these are the controller's own checks, which hold on a hub without them.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import api, render


def rolebinding() -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "readers", "namespace": "team-a", "uid": "u-1"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "Group", "name": "team-a", "apiGroup": "rbac.authorization.k8s.io"}],
    }


def secret(kind_type: str = "Opaque") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": kind_type,
        "metadata": {"name": "db", "namespace": "team-a", "uid": "u-2"},
        "data": {"password": "c2VjcmV0"},
    }


def deployment(name: str = "web", namespace: str = "team-a") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "uid": "u-3", "generation": 1},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }


# ------------------------------------------------------------------ allow-list


def test_default_policy_allows_the_default_kinds_only():
    policy = render.TenantPolicy()
    for group, kind in api.DEFAULT_RESOURCES:
        assert policy.allows(group, kind)
    assert not policy.allows("rbac.authorization.k8s.io", "ClusterRoleBinding")
    assert not policy.allows("", "Namespace")
    assert not policy.allows("apiextensions.k8s.io", "CustomResourceDefinition")


def test_policy_from_configmap_reads_the_admins_list():
    configmap = {"data": {"allowedKinds": "apps/Deployment, ConfigMap\npolicy/PodDisruptionBudget,"}}
    policy = render.TenantPolicy.from_configmap(configmap)
    assert policy.allowed_kinds == {("apps", "Deployment"), ("", "ConfigMap"), ("policy", "PodDisruptionBudget")}
    assert render.TenantPolicy.from_configmap(None) == render.TenantPolicy()
    assert render.TenantPolicy.from_configmap({"data": {}}) == render.TenantPolicy()
    assert render.TenantPolicy.from_configmap({"data": {"allowedKinds": ""}}).allowed_kinds == frozenset()


def test_a_kind_off_the_list_is_refused_naming_the_field_and_kind():
    policy = render.TenantPolicy()
    with pytest.raises(api.SpecError) as err:
        policy.check_resources([("apps", "Deployment"), ("rbac.authorization.k8s.io", "ClusterRoleBinding")])
    assert err.value.field == "spec.resources[1]"
    assert "rbac.authorization.k8s.io/ClusterRoleBinding" in str(err.value)
    assert "tmc-system/tmc-policy" in str(err.value)


# ------------------------------------------------------------------ overrides


@pytest.mark.parametrize(
    "override, field",
    [
        ({"jsonPatch": [{"op": "add", "path": "/subjects/-", "value": {"kind": "Group", "name": "x"}}]}, "subjects"),
        ({"jsonPatch": [{"op": "replace", "path": "/roleRef/name", "value": "cluster-admin"}]}, "roleRef"),
        ({"jsonPatch": [{"op": "remove", "path": "/subjects"}]}, "subjects"),
        ({"jsonPatch": [{"op": "move", "from": "/subjects", "path": "/x"}]}, "subjects"),
        ({"mergePatch": {"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}}}, "roleRef"),
        ({"mergePatch": {"subjects": [{"kind": "User", "name": "mallory"}]}}, "subjects"),
        ({"mergePatch": {"metadata": {"namespace": "kube-system"}}}, "metadata.namespace"),
        ({"jsonPatch": [{"op": "replace", "path": "/metadata/name", "value": "other"}]}, "metadata.name"),
        ({"jsonPatch": [{"op": "replace", "path": "", "value": {"kind": "X", "metadata": {}}}]}, "apiVersion"),
        ({"mergePatch": {"kind": "ClusterRoleBinding"}}, "kind"),
    ],
)
def test_overrides_may_not_touch_rbac_or_identity(override, field):
    source = rolebinding()
    before = copy.deepcopy(source)
    with pytest.raises(api.SpecError) as err:
        render.render_manifest(source, "east", overrides=[{"clusters": ["east"], **override}])
    assert err.value.field in ("spec.overrides[0]", "spec.overrides[0].jsonPatch[0]")
    assert f"must not change {field}" in str(err.value)
    assert source == before


def test_overrides_may_not_add_rules_to_a_role():
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r", "namespace": "team-a"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }
    grab = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
    with pytest.raises(api.SpecError, match="must not change rules"):
        render.render_manifest(
            role, "east", overrides=[{"jsonPatch": [{"op": "add", "path": "/rules/-", "value": grab}]}]
        )


def test_an_override_may_not_turn_a_secret_into_a_token():
    patch = {"mergePatch": {"type": "kubernetes.io/service-account-token"}}
    with pytest.raises(api.SpecError, match="must not change type"):
        render.render_manifest(secret(), "east", overrides=[patch])


def test_a_service_account_token_secret_is_never_rendered():
    with pytest.raises(api.SpecError, match="service-account token"):
        render.render_manifest(secret("kubernetes.io/service-account-token"), "east")


def test_ordinary_overrides_still_apply():
    out = render.render_manifest(
        deployment(),
        "east",
        overrides=[{"jsonPatch": [{"op": "replace", "path": "/spec/replicas", "value": 5}]}, {"image": {"tag": "2"}}],
    )
    assert out["spec"]["replicas"] == 5
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"


# ------------------------------------------------------------------ SyncWorks the controller believes


def work(source=None, cluster: str = "east", placement: str | None = "web") -> dict:
    source = source or deployment()
    manifest = render.render_manifest(source, cluster)
    return render.build_syncwork(source, cluster, manifest, placement)


def test_a_syncwork_the_controller_wrote_is_trusted():
    assert render.untrusted_reason(work()) is None
    assert render.untrusted_reason(work(placement=None)) is None


@given(
    name=st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,40}[a-z0-9])?", fullmatch=True),
    namespace=st.from_regex(r"[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?", fullmatch=True),
    cluster=st.from_regex(r"[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?", fullmatch=True),
    kind=st.sampled_from(["Deployment", "ConfigMap", "Widget"]),
    api_version=st.sampled_from(["apps/v1", "v1", "example.com/v1"]),
)
def test_every_built_syncwork_is_trusted(name, namespace, cluster, kind, api_version):
    source = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace, "uid": "u"}}
    assert render.untrusted_reason(work(source, cluster)) is None


def _moved(w: dict, namespace: str) -> dict:
    w = copy.deepcopy(w)
    w["metadata"]["namespace"] = namespace
    return w


@pytest.mark.parametrize(
    "forge, reason",
    [
        # A tenant's SyncWork in its own namespace.
        (lambda w: _moved(w, "team-b"), "not a cluster namespace"),
        # Another cluster's namespace, spec unchanged: the cluster comes from the namespace.
        (lambda w: _moved(w, "tmc-cluster-west"), "spec.cluster 'east' is not 'west'"),
        # A syncer points its SyncWork at another team's workload.
        (lambda w: {**w, "spec": {**w["spec"], "source": {**w["spec"]["source"], "namespace": "team-b"}}}, "name"),
        (lambda w: {**w, "spec": {**w["spec"], "source": {**w["spec"]["source"], "name": "other"}}}, "name"),
        (lambda w: {**w, "spec": {**w["spec"], "cluster": "west"}}, "spec.cluster"),
        # ... or relabels it for another team's summaries.
        (
            lambda w: {
                **w,
                "metadata": {
                    **w["metadata"],
                    "labels": {**w["metadata"]["labels"], render.LABEL_SOURCE_NAMESPACE: "team-b"},
                },
            },
            "label",
        ),
        (
            lambda w: {
                **w,
                "metadata": {**w["metadata"], "labels": {**w["metadata"]["labels"], api.LABEL_CLUSTER: "west"}},
            },
            "label",
        ),
        (lambda w: {**w, "spec": {**w["spec"], "placement": "other"}}, "label"),
        (
            lambda w: {**w, "spec": {**w["spec"], "source": {"apiVersion": "apps/v1", "kind": "Deployment"}}},
            "namespace",
        ),
    ],
)
def test_forged_syncworks_are_not_trusted(forge, reason):
    found = render.untrusted_reason(forge(work()))
    assert found is not None and reason in found
