"""render: stripping, replicas, overrides (JSON patch, merge patch, image); test_render_parts holds the rest."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api, render

from .render_objects import UID, deployment, job, render_one, service

# --------------------------------------------------------------------------
# Stripping


@pytest.mark.parametrize("field", render.SERVER_SET_METADATA)
def test_strips_each_server_set_metadata_field(field):
    source = deployment()
    assert field in source["metadata"]
    assert field not in render_one(source)["metadata"]


def test_strips_status_and_client_annotations_but_keeps_user_metadata():
    out = render_one(deployment())
    assert "status" not in out
    annotations = out["metadata"]["annotations"]
    assert render.ANNOTATION_LAST_APPLIED not in annotations
    assert "deployment.kubernetes.io/revision" not in annotations
    assert annotations["team.example.com/owner"] == "alice"
    assert out["metadata"]["labels"]["app"] == "web"
    assert out["metadata"]["name"] == "web"
    assert out["metadata"]["namespace"] == "team"


def test_strips_creation_timestamp_from_embedded_templates():
    assert "creationTimestamp" not in render_one(deployment())["spec"]["template"]["metadata"]
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "team"},
        "spec": {
            "schedule": "0 1 * * *",
            "jobTemplate": {
                "metadata": {"creationTimestamp": None},
                "spec": {"template": {"metadata": {"creationTimestamp": None}, "spec": {"containers": []}}},
            },
        },
    }
    out = render_one(cron)
    assert out["spec"]["jobTemplate"]["metadata"] == {}
    assert out["spec"]["jobTemplate"]["spec"]["template"]["metadata"] == {}


def test_strips_status_of_statefulset_volume_claim_templates():
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "team"},
        "spec": {
            "replicas": 2,
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "creationTimestamp": None},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                    "status": {"phase": "Pending"},
                }
            ],
        },
    }
    claim = render_one(sts)["spec"]["volumeClaimTemplates"][0]
    assert claim == {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def test_service_cluster_ip_and_families_are_stripped():
    spec = render_one(service())["spec"]
    assert "clusterIP" not in spec
    assert "clusterIPs" not in spec
    assert "ipFamilies" not in spec
    assert "ipFamilyPolicy" not in spec
    assert spec["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]


def test_headless_service_keeps_cluster_ip_none():
    spec = render_one(service(clusterIP="None", clusterIPs=["None"]))["spec"]
    assert spec["clusterIP"] == "None"
    assert spec["clusterIPs"] == ["None"]


@pytest.mark.parametrize(
    "overrides, kept",
    [
        ({"ipFamilyPolicy": "SingleStack"}, False),
        ({"ipFamilyPolicy": "PreferDualStack"}, True),
        ({"ipFamilyPolicy": "RequireDualStack"}, True),
        # The hub defaults RequireDualStack for selectorless headless Services on a dual-stack hub.
        ({"ipFamilyPolicy": "RequireDualStack", "clusterIP": "None", "clusterIPs": ["None"], "selector": None}, False),
    ],
)
def test_ip_family_policy_rule(overrides, kept):
    spec = render_one(service(**overrides))["spec"]
    assert ("ipFamilyPolicy" in spec) is kept
    assert "ipFamilies" not in spec


def test_node_ports_are_stripped_by_default():
    source = service(
        type="LoadBalancer",
        externalTrafficPolicy="Local",
        healthCheckNodePort=32000,
        ports=[{"port": 80, "nodePort": 31080}, {"port": 443, "nodePort": 31443}],
    )
    spec = render_one(source)["spec"]
    assert spec["ports"] == [{"port": 80}, {"port": 443}]
    assert "healthCheckNodePort" not in spec
    assert spec["type"] == "LoadBalancer"


@pytest.mark.parametrize("svc_type", ["NodePort", "LoadBalancer"])
def test_node_ports_kept_when_the_source_asks(svc_type):
    source = service(type=svc_type, healthCheckNodePort=32000, ports=[{"port": 80, "nodePort": 31080}])
    source["metadata"]["annotations"][render.ANNOTATION_PRESERVE_NODE_PORTS] = "true"
    spec = render_one(source)["spec"]
    assert spec["ports"] == [{"port": 80, "nodePort": 31080}]
    assert spec["healthCheckNodePort"] == 32000


def test_preserve_annotation_does_not_keep_node_ports_on_a_cluster_ip_service():
    source = service(ports=[{"port": 80, "nodePort": 31080}])
    source["metadata"]["annotations"][render.ANNOTATION_PRESERVE_NODE_PORTS] = "true"
    assert render_one(source)["spec"]["ports"] == [{"port": 80}]


def test_job_selector_and_controller_labels_are_stripped():
    spec = render_one(job())["spec"]
    assert "selector" not in spec
    assert spec["template"]["metadata"]["labels"] == {"app": "migrate"}


def test_job_name_labels_of_another_value_are_kept():
    source = job()
    source["spec"]["template"]["metadata"]["labels"]["job-name"] = "something-else"
    labels = render_one(source)["spec"]["template"]["metadata"]["labels"]
    assert labels == {"app": "migrate", "job-name": "something-else"}


def test_job_template_labels_removed_entirely_when_only_controller_labels():
    source = job()
    del source["spec"]["template"]["metadata"]["labels"]["app"]
    assert render_one(source)["spec"]["template"]["metadata"] == {}


def test_job_with_manual_selector_is_kept_as_written():
    source = job(manualSelector=True, selector={"matchLabels": {"app": "migrate", "controller-uid": UID}})
    out = render_one(source)
    assert out["spec"]["selector"] == source["spec"]["selector"]
    assert out["spec"]["template"]["metadata"]["labels"] == source["spec"]["template"]["metadata"]["labels"]


def test_pod_loses_the_hub_service_account_token_volume():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "team"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "volumeMounts": [
                        {"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
                        {"name": "config", "mountPath": "/etc/app"},
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "kube-api-access-x7k2p",
                    "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}, {"configMap": {}}]},
                },
                {"name": "config", "configMap": {"name": "app"}},
            ],
        },
    }
    spec = render_one(pod)["spec"]
    assert spec["volumes"] == [{"name": "config", "configMap": {"name": "app"}}]
    assert spec["containers"][0]["volumeMounts"] == [{"name": "config", "mountPath": "/etc/app"}]


def test_strip_server_fields_is_exposed_and_does_not_add_tmc_metadata():
    out = render.strip_server_fields(deployment())
    assert api.LABEL_MANAGED not in out["metadata"]["labels"]
    assert "uid" not in out["metadata"]


# --------------------------------------------------------------------------
# Managed metadata and replicas


def test_managed_labels_and_source_annotation():
    out = render_one(deployment())
    assert out["metadata"]["labels"][api.LABEL_MANAGED] == "true"
    assert out["metadata"]["labels"][api.LABEL_CLUSTER] == "east"
    assert out["metadata"]["annotations"][api.ANNOTATION_SOURCE] == f"team/web/{UID}"


def test_managed_metadata_added_when_source_has_no_labels_or_annotations():
    source = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "team"}, "data": {}}
    out = render_one(source)
    assert out["metadata"]["labels"] == {api.LABEL_MANAGED: "true", api.LABEL_CLUSTER: "east"}
    assert out["metadata"]["annotations"] == {api.ANNOTATION_SOURCE: "team/cfg/"}


def test_replicas_set_for_divided():
    assert render_one(deployment(), replicas=2)["spec"]["replicas"] == 2
    assert render_one(deployment(), replicas=0)["spec"]["replicas"] == 0
    assert render_one(deployment())["spec"]["replicas"] == 3


def test_replicas_added_to_statefulset_without_spec_replicas():
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {}}
    assert render_one(sts, replicas=4)["spec"]["replicas"] == 4


def test_replicas_set_on_custom_kind_that_has_them_and_ignored_on_daemonset():
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "r"},
        "spec": {"replicas": 5},
    }
    assert render_one(rollout, replicas=2)["spec"]["replicas"] == 2
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"}, "spec": {"template": {}}}
    assert "replicas" not in render_one(ds, replicas=2)["spec"]


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_replicas_are_refused(bad):
    with pytest.raises(api.SpecError) as err:
        render_one(deployment(), replicas=bad)
    assert err.value.field == "replicas"


@pytest.mark.parametrize(
    "source, field",
    [
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "source.metadata.name"),
        ({"kind": "ConfigMap", "metadata": {"name": "x"}}, "source"),
        ("not an object", "source"),
    ],
)
def test_bad_sources_are_refused(source, field):
    with pytest.raises(api.SpecError) as err:
        render.render_manifest(source, "east")
    assert err.value.field == field


@pytest.mark.parametrize("cluster", ["", "East", "a_b", "-a", "x" * 64, None])
def test_bad_cluster_names_are_refused(cluster):
    with pytest.raises(api.SpecError) as err:
        render.render_manifest(deployment(), cluster)
    assert err.value.field == "cluster"


def test_render_does_not_mutate_or_alias_its_inputs():
    source = deployment()
    overrides = [{"mergePatch": {"spec": {"template": {"metadata": {"labels": {"tier": "x"}}}}}}]
    before_source, before_overrides = copy.deepcopy(source), copy.deepcopy(overrides)
    out = render_one(source, overrides=overrides, replicas=1)
    assert source == before_source
    assert overrides == before_overrides
    out["spec"]["template"]["metadata"]["labels"]["tier"] = "changed"
    assert overrides == before_overrides


# --------------------------------------------------------------------------
# Overrides: matching


def test_override_matching_by_name_selector_both_and_neither():
    labels = {"region": "eu", "tier": "prod"}
    by_name = {"clusters": ["east", "west"]}
    by_selector = {"clusterSelector": {"matchLabels": {"region": "eu"}}}
    both_ok = {"clusters": ["east"], "clusterSelector": {"matchLabels": {"tier": "prod"}}}
    both_one_fails = {"clusters": ["east"], "clusterSelector": {"matchLabels": {"tier": "dev"}}}
    assert render.override_matches(by_name, "east", labels, "o")
    assert not render.override_matches(by_name, "north", labels, "o")
    assert render.override_matches(by_selector, "north", labels, "o")
    assert not render.override_matches(by_selector, "north", {"region": "us"}, "o")
    assert render.override_matches(both_ok, "east", labels, "o")
    assert not render.override_matches(both_one_fails, "east", labels, "o")
    assert render.override_matches({}, "any", None, "o")
    assert render.override_matches({"clusters": []}, "any", None, "o")


def test_only_matching_overrides_are_applied():
    overrides = [
        {"clusters": ["west"], "mergePatch": {"metadata": {"labels": {"west": "yes"}}}},
        {"clusterSelector": {"matchLabels": {"region": "eu"}}, "mergePatch": {"metadata": {"labels": {"eu": "yes"}}}},
    ]
    labels = render_one(deployment(), overrides=overrides, cluster_labels={"region": "eu"})["metadata"]["labels"]
    assert labels.get("eu") == "yes"
    assert "west" not in labels


@pytest.mark.parametrize(
    "selector, labels, expected",
    [
        ({}, {}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
        (
            {"matchLabels": {"b": "2"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
            {"a": "1", "b": "3"},
            False,
        ),
    ],
)
def test_selector_matches(selector, labels, expected):
    assert render.selector_matches(selector, labels) is expected


@pytest.mark.parametrize(
    "selector, field",
    [
        ({"matchExpressions": [{"key": "a", "operator": "Near", "values": ["1"]}]}, "s.matchExpressions[0].operator"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "s.matchExpressions[0].values"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "s.matchExpressions[0].values"),
        ({"matchExpressions": [{"operator": "Exists"}]}, "s.matchExpressions[0]"),
        ({"matchLabels": ["a"]}, "s.matchLabels"),
        ("region=eu", "s"),
    ],
)
def test_bad_selectors_name_the_field(selector, field):
    with pytest.raises(api.SpecError) as err:
        render.selector_matches(selector, {"a": "1"}, "s")
    assert err.value.field == field


def test_bad_override_selector_error_names_the_override():
    overrides = [{}, {"clusterSelector": {"matchExpressions": [{"key": "a", "operator": "Bad"}]}}]
    with pytest.raises(api.SpecError) as err:
        render_one(deployment(), overrides=overrides)
    assert err.value.field == "spec.overrides[1].clusterSelector.matchExpressions[0].operator"


def test_overrides_none_means_no_overrides_and_a_mapping_is_refused():
    assert render_one(deployment(), overrides=None) == render_one(deployment())
    with pytest.raises(api.SpecError) as err:
        render_one(deployment(), overrides={"image": {"tag": "1"}})
    assert err.value.field == "spec.overrides"


def test_bad_clusters_list_is_refused():
    with pytest.raises(api.SpecError) as err:
        render_one(deployment(), overrides=[{"clusters": "east"}])
    assert err.value.field == "spec.overrides[0].clusters"


# --------------------------------------------------------------------------
# Overrides: golden examples


def test_json_patch_override_golden():
    overrides = [
        {
            "clusters": ["east"],
            "jsonPatch": [
                {"op": "test", "path": "/spec/replicas", "value": 3},
                {"op": "replace", "path": "/spec/replicas", "value": 5},
                {"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "A", "value": "1"}]},
                {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "B", "value": "2"}},
                {"op": "remove", "path": "/spec/template/spec/initContainers"},
                {"op": "add", "path": "/metadata/annotations/example.com~1note", "value": "a~b"},
                {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/copied"},
                {"op": "move", "from": "/metadata/labels/copied", "path": "/metadata/labels/moved"},
            ],
        }
    ]
    out = render_one(deployment(), overrides=overrides)
    assert out["spec"]["replicas"] == 5
    assert out["spec"]["template"]["spec"] == {
        "containers": [
            {"name": "web", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "quay.io/prometheus/node-exporter:v1.8.0"},
        ]
    }
    assert out["metadata"]["annotations"]["example.com/note"] == "a~b"
    assert out["metadata"]["labels"] == {
        "app": "web",
        "moved": "web",
        api.LABEL_MANAGED: "true",
        api.LABEL_CLUSTER: "east",
    }


def test_merge_patch_override_golden():
    overrides = [
        {
            "mergePatch": {
                "metadata": {"annotations": {"team.example.com/owner": None, "new": "1"}},
                "spec": {
                    "strategy": {"type": "Recreate"},
                    "template": {"spec": {"initContainers": None, "nodeSelector": {"disk": "ssd"}}},
                },
            }
        }
    ]
    out = render_one(deployment(), overrides=overrides)
    assert out["metadata"]["annotations"] == {"new": "1", api.ANNOTATION_SOURCE: f"team/web/{UID}"}
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert "initContainers" not in out["spec"]["template"]["spec"]
    assert out["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert len(out["spec"]["template"]["spec"]["containers"]) == 2


def test_image_override_golden_registry():
    out = render_one(deployment(), overrides=[{"image": {"registry": "mirror.example.com:5000"}}])
    spec = out["spec"]["template"]["spec"]
    assert [c["image"] for c in spec["initContainers"]] == ["mirror.example.com:5000/library/busybox"]
    assert [c["image"] for c in spec["containers"]] == [
        "mirror.example.com:5000/library/nginx:1.25",
        "mirror.example.com:5000/prometheus/node-exporter:v1.8.0",
    ]


def test_image_override_golden_tag_and_repository():
    overrides = [{"image": {"tag": "1.27"}}, {"image": {"repository": "team/web"}}]
    containers = render_one(deployment(), overrides=overrides)["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["team/web:1.27", "quay.io/team/web:1.27"]


def test_image_override_on_pod_and_cronjob():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "app:1"}]}}}}},
    }
    override = [{"image": {"registry": "r.io"}}]
    assert render_one(pod, overrides=override)["spec"]["containers"][0]["image"] == "r.io/library/nginx"
    cron_out = render_one(cron, overrides=override)
    assert cron_out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == "r.io/library/app:1"


def test_image_override_ignores_objects_without_pod_template():
    out = render_one(service(), overrides=[{"image": {"tag": "2"}}])
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]


def test_override_order_within_one_entry_is_image_merge_json():
    override = {
        "image": {"tag": "2"},
        "mergePatch": {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x:1"}]}}}},
        "jsonPatch": [{"op": "test", "path": "/spec/template/spec/containers/0/image", "value": "x:1"}],
    }
    out = render_one(deployment(), overrides=[override])
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "x:1"}]


def test_overrides_apply_in_list_order_after_replicas():
    overrides = [
        {"jsonPatch": [{"op": "replace", "path": "/spec/replicas", "value": 7}]},
        {"mergePatch": {"spec": {"replicas": 9}}},
    ]
    assert render_one(deployment(), replicas=1, overrides=overrides)["spec"]["replicas"] == 9


def test_overrides_cannot_remove_managed_metadata():
    overrides = [{"mergePatch": {"metadata": {"labels": None, "annotations": None}}}]
    out = render_one(deployment(), overrides=overrides)
    assert out["metadata"]["labels"] == {api.LABEL_MANAGED: "true", api.LABEL_CLUSTER: "east"}
    assert out["metadata"]["annotations"] == {api.ANNOTATION_SOURCE: f"team/web/{UID}"}


@pytest.mark.parametrize(
    "override",
    [
        {"mergePatch": {"metadata": {"name": "other"}}},
        {"mergePatch": {"metadata": {"namespace": "other"}}},
        {"jsonPatch": [{"op": "replace", "path": "/kind", "value": "StatefulSet"}]},
        {"jsonPatch": [{"op": "remove", "path": "/apiVersion"}]},
    ],
)
def test_overrides_cannot_change_identity(override):
    with pytest.raises(api.SpecError) as err:
        render_one(deployment(), overrides=[{}, override])
    assert err.value.field == "spec.overrides[1]"
    assert "must not change" in str(err.value)


def test_override_replacing_metadata_with_a_scalar_is_refused():
    with pytest.raises(api.SpecError) as err:
        render_one(deployment(), overrides=[{"jsonPatch": [{"op": "replace", "path": "/metadata", "value": 1}]}])
    assert err.value.field == "spec.overrides[0]"


@pytest.mark.parametrize(
    "image, field",
    [
        ({}, "spec.overrides[0].image"),
        ("nginx", "spec.overrides[0].image"),
        ({"registry": "bad host!"}, "spec.overrides[0].image.registry"),
        ({"repository": "Upper/Case"}, "spec.overrides[0].image.repository"),
        ({"tag": "bad tag"}, "spec.overrides[0].image.tag"),
        ({"tag": 5}, "spec.overrides[0].image.tag"),
    ],
)
def test_bad_image_overrides_name_the_field(image, field):
    with pytest.raises(api.SpecError) as err:
        render_one(deployment(), overrides=[{"image": image}])
    assert err.value.field == field


def test_unparsable_container_image_with_image_override_names_the_container():
    source = deployment()
    source["spec"]["template"]["spec"]["containers"][0]["image"] = "Not A Ref"
    with pytest.raises(api.SpecError) as err:
        render_one(source, overrides=[{"image": {"tag": "1"}}])
    assert err.value.field == "spec.overrides[0].image"
    assert "'web'" in str(err.value)


def test_merge_patch_must_be_an_object():
    with pytest.raises(api.SpecError) as err:
        render_one(deployment(), overrides=[{"mergePatch": ["x"]}])
    assert err.value.field == "spec.overrides[0].mergePatch"


@pytest.mark.parametrize(
    "ops, index, message",
    [
        ([{"op": "add", "path": "/metadata/labels/x", "value": 1}, {"op": "remove", "path": "/nope"}], 1, "non-exist"),
        ([{"op": "replace", "path": "/spec/nope", "value": 1}], 0, "non-existent"),
        ([{"op": "frobnicate", "path": "/spec"}], 0, "is not one of"),
        ([{"path": "/spec"}], 0, "is not one of"),
        ([{"op": "add", "path": "/spec/x"}], 0, "needs 'value'"),
        ([{"op": "add", "value": 1}], 0, "needs 'path'"),
        ([{"op": "move", "path": "/spec/x"}], 0, "needs 'from'"),
        ([{"op": "copy", "from": "/nope", "path": "/spec/x"}], 0, "does not exist"),
        ([{"op": "add", "path": "spec/x", "value": 1}], 0, "must be empty or start with '/'"),
        ([{"op": "add", "path": "/metadata/labels/a~2b", "value": 1}], 0, "'~' must be followed by 0 or 1"),
        ([{"op": "add", "path": "/spec/template/spec/containers/9", "value": {}}], 0, "outside of list"),
        ([{"op": "add", "path": "/spec/template/spec/containers/01", "value": {}}], 0, "not an array index"),
        ([{"op": "remove", "path": "/spec/template/spec/containers/-"}], 0, "only be the target of add"),
        ([{"op": "replace", "path": "/spec/template/spec/containers/2", "value": {}}], 0, "outside of list"),
        ([{"op": "add", "path": "/spec/replicas/x", "value": 1}], 0, "not an object or array"),
        ([{"op": "test", "path": "/spec/replicas", "value": 4}], 0, "test failed"),
        ([{"op": "test", "path": "/spec/replicas", "value": "3"}], 0, "test failed"),
        ([{"op": "move", "from": "/spec", "path": "/spec/template/x"}], 0, "own child"),
        ([{"op": "remove", "path": ""}], 0, "whole manifest"),
        (["add"], 0, "must be an object"),
    ],
)
def test_bad_json_patches_name_the_operation(ops, index, message):
    source = deployment()
    before = copy.deepcopy(source)
    with pytest.raises(api.SpecError) as err:
        render_one(source, overrides=[{}, {"jsonPatch": ops}])
    assert err.value.field == f"spec.overrides[1].jsonPatch[{index}]"
    assert message in str(err.value)
    assert source == before


def test_json_patch_must_be_a_list():
    with pytest.raises(api.SpecError) as err:
        render_one(deployment(), overrides=[{"jsonPatch": {"op": "add"}}])
    assert err.value.field == "spec.overrides[0].jsonPatch"
