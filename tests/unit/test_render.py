"""render: stripping, replicas, overrides (JSON patch, merge patch, image), dependencies, SyncWorks."""

from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api, render

UID = "6f1f6f0e-5a7e-4f47-9d0a-3c1b2a8e9d01"


def hub_meta(name="web", namespace="team", **extra):
    meta = {
        "name": name,
        "namespace": namespace,
        "uid": UID,
        "resourceVersion": "4711",
        "generation": 3,
        "creationTimestamp": "2025-01-01T00:00:00Z",
        "selfLink": f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
        "deletionTimestamp": "2025-01-02T00:00:00Z",
        "deletionGracePeriodSeconds": 30,
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "x"}],
        "finalizers": ["example.com/keep"],
        "labels": {"app": name},
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}',
            "deployment.kubernetes.io/revision": "2",
            "team.example.com/owner": "alice",
        },
    }
    meta.update(extra)
    return meta


def deployment(**spec):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": hub_meta(),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {
                    "initContainers": [{"name": "init", "image": "busybox"}],
                    "containers": [
                        {"name": "web", "image": "nginx:1.25"},
                        {"name": "sidecar", "image": "quay.io/prometheus/node-exporter:v1.8.0"},
                    ],
                },
            },
            **spec,
        },
        "status": {"replicas": 3, "availableReplicas": 3, "observedGeneration": 3},
    }


def service(**spec):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": hub_meta(),
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.15",
            "clusterIPs": ["10.96.0.15"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            **spec,
        },
        "status": {"loadBalancer": {}},
    }


def job(**spec):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": hub_meta(name="migrate"),
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}},
            "template": {
                "metadata": {
                    "labels": {
                        "app": "migrate",
                        "controller-uid": UID,
                        "batch.kubernetes.io/controller-uid": UID,
                        "job-name": "migrate",
                        "batch.kubernetes.io/job-name": "migrate",
                    }
                },
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "migrate:1"}]},
            },
            **spec,
        },
    }


def render_one(source, **kwargs):
    return render.render_manifest(source, "east", **kwargs)


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


# --------------------------------------------------------------------------
# JSON Pointer / JSON Patch / merge patch, directly


@pytest.mark.parametrize(
    "pointer, tokens",
    [
        ("", []),
        ("/", [""]),
        ("/foo", ["foo"]),
        ("/foo/0", ["foo", "0"]),
        ("/a~1b", ["a/b"]),
        ("/m~0n", ["m~n"]),
        ("/~01", ["~1"]),
        ("/~10", ["/0"]),
        ("/ ", [" "]),
        ("/a//b", ["a", "", "b"]),
    ],
)
def test_json_pointer_parse_and_format(pointer, tokens):
    assert render.parse_pointer(pointer) == tokens
    assert render.format_pointer(tokens) == pointer


# RFC 6902 appendix A, as (document, patch, result-or-None-for-error).
RFC6902_CASES = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], None),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], None),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], None),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], {"foo": ["bar", ["abc", "def"]]}),
    ({"foo": 1}, [{"op": "test", "path": "/foo", "value": 1.0}], {"foo": 1}),
    ({"foo": 1}, [{"op": "test", "path": "/foo", "value": True}], None),
    ({"foo": None}, [{"op": "test", "path": "/foo", "value": None}], {"foo": None}),
    ({"foo": {"a": 1}}, [{"op": "copy", "from": "/foo", "path": "/bar"}], {"foo": {"a": 1}, "bar": {"a": 1}}),
    ({"foo": 1}, [{"op": "move", "from": "/foo", "path": "/foo"}], {"foo": 1}),
    ({"foo": 1}, [{"op": "replace", "path": "", "value": {"bar": 2}}], {"bar": 2}),
    ({"foo": 1}, [{"op": "add", "path": "", "value": [1]}], [1]),
]


@pytest.mark.parametrize("doc, patch, expected", RFC6902_CASES)
def test_rfc6902_examples(doc, patch, expected):
    before = copy.deepcopy(doc)
    if expected is None:
        with pytest.raises(api.SpecError):
            render.apply_json_patch(doc, patch)
    else:
        assert render.apply_json_patch(doc, patch) == expected
    assert doc == before


def test_copy_does_not_alias():
    out = render.apply_json_patch({"a": {"x": 1}}, [{"op": "copy", "from": "/a", "path": "/b"}])
    out["b"]["x"] = 2
    assert out["a"]["x"] == 1


# RFC 7386 appendix A.
RFC7386_CASES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target, patch, expected", RFC7386_CASES)
def test_rfc7386_examples(target, patch, expected):
    before = copy.deepcopy(target)
    assert render.apply_merge_patch(target, patch) == expected
    assert target == before


# --------------------------------------------------------------------------
# Image references

IMAGE_CASES = [
    ("nginx", ("", "nginx", "", "")),
    ("nginx:1.25", ("", "nginx", "1.25", "")),
    ("library/nginx:latest", ("", "library/nginx", "latest", "")),
    ("bitnami/redis:7.2", ("", "bitnami/redis", "7.2", "")),
    ("docker.io/library/nginx", ("docker.io", "library/nginx", "", "")),
    ("quay.io/prometheus/node-exporter:v1.8.0", ("quay.io", "prometheus/node-exporter", "v1.8.0", "")),
    ("registry.k8s.io/pause:3.9", ("registry.k8s.io", "pause", "3.9", "")),
    ("localhost/app", ("localhost", "app", "", "")),
    ("localhost:5000/team/app:dev", ("localhost:5000", "team/app", "dev", "")),
    ("registry.example.com:443/a/b/c:1", ("registry.example.com:443", "a/b/c", "1", "")),
    ("myregistry:5000/app", ("myregistry:5000", "app", "", "")),
    ("[::1]:5000/app:1", ("[::1]:5000", "app", "1", "")),
    ("Registry/app", ("Registry", "app", "", "")),
    ("nginx@sha256:" + "a" * 64, ("", "nginx", "", "sha256:" + "a" * 64)),
    (
        "ghcr.io/org/app:1.0@sha256:" + "0123456789abcdef" * 4,
        ("ghcr.io", "org/app", "1.0", "sha256:" + "0123456789abcdef" * 4),
    ),
    ("localhost:5000/app@sha256:" + "b" * 64, ("localhost:5000", "app", "", "sha256:" + "b" * 64)),
    ("user/repo_name.with-dots__x", ("", "user/repo_name.with-dots__x", "", "")),
    ("nginx:1.25-alpine_3.19", ("", "nginx", "1.25-alpine_3.19", "")),
]


@pytest.mark.parametrize("image, parts", IMAGE_CASES)
def test_parse_image(image, parts):
    ref = render.parse_image(image)
    assert tuple(ref) == parts
    assert str(ref) == image


@pytest.mark.parametrize(
    "image",
    [
        "",
        " nginx",
        "Nginx",
        "nginx:",
        "nginx:bad tag",
        "nginx:-dash",
        "nginx@sha256:short",
        "nginx@" + "a" * 64,
        "quay.io/",
        "a//b",
        "bad_host.io:x/app",
        None,
        "nginx:" + "t" * 129,
    ],
)
def test_parse_image_rejects(image):
    with pytest.raises(ValueError):
        render.parse_image(image)


DIGEST = "sha256:" + "c" * 64


@pytest.mark.parametrize(
    "image, kwargs, expected",
    [
        ("nginx", {"registry": "mirror.io"}, "mirror.io/library/nginx"),
        ("nginx:1.25", {"registry": "mirror.io"}, "mirror.io/library/nginx:1.25"),
        ("docker.io/nginx", {"registry": "mirror.io"}, "mirror.io/library/nginx"),
        ("docker.io/library/nginx", {"registry": "mirror.io"}, "mirror.io/library/nginx"),
        ("bitnami/redis", {"registry": "mirror.io"}, "mirror.io/bitnami/redis"),
        ("quay.io/org/app:1", {"registry": "localhost:5000"}, "localhost:5000/org/app:1"),
        ("quay.io/org/app:1", {"registry": "harbor.io/proxy"}, "harbor.io/proxy/org/app:1"),
        ("harbor.io/proxy/org/app:1", {"registry": "harbor.io/proxy"}, "harbor.io/proxy/org/app:1"),
        ("mirror.io/library/nginx", {"registry": "mirror.io"}, "mirror.io/library/nginx"),
        ("nginx", {"registry": "docker.io"}, "docker.io/nginx"),
        ("quay.io/org/app:1", {"repository": "team/app"}, "quay.io/team/app:1"),
        ("quay.io/org/app:1", {"tag": "2"}, "quay.io/org/app:2"),
        ("quay.io/org/app", {"tag": "2"}, "quay.io/org/app:2"),
        (f"quay.io/org/app:1@{DIGEST}", {"tag": "2"}, "quay.io/org/app:2"),
        (f"quay.io/org/app@{DIGEST}", {"registry": "m.io"}, f"m.io/org/app@{DIGEST}"),
        ("a:1", {"registry": "r.io", "repository": "b/c", "tag": "3"}, "r.io/b/c:3"),
        ("docker.io/nginx", {}, "docker.io/nginx"),
        ("quay.io/org/app:1", {"tag": "1"}, "quay.io/org/app:1"),
    ],
)
def test_rewrite_image(image, kwargs, expected):
    assert render.rewrite_image(image, **kwargs) == expected


# --------------------------------------------------------------------------
# dependencies


def pod_template_owner(kind, pod_spec):
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec}
    if kind == "CronJob":
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec}}}},
        }
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w"}, "spec": {"template": {"spec": pod_spec}}}


DEPENDENCY_CASES = [
    ({"volumes": [{"name": "v", "configMap": {"name": "cm"}}]}, {("ConfigMap", "cm")}),
    ({"volumes": [{"name": "v", "secret": {"secretName": "s"}}]}, {("Secret", "s")}),
    (
        {
            "volumes": [
                {
                    "name": "v",
                    "projected": {
                        "sources": [
                            {"configMap": {"name": "pcm"}},
                            {"secret": {"name": "ps"}},
                            {"serviceAccountToken": {"path": "t"}},
                            {"downwardAPI": {"items": []}},
                        ]
                    },
                }
            ]
        },
        {("ConfigMap", "pcm"), ("Secret", "ps")},
    ),
    (
        {
            "containers": [
                {"name": "c", "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "e", "key": "k"}}}]}
            ]
        },
        {("ConfigMap", "e")},
    ),
    (
        {
            "containers": [
                {"name": "c", "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "es", "key": "k"}}}]}
            ]
        },
        {("Secret", "es")},
    ),
    (
        {
            "initContainers": [
                {"name": "i", "envFrom": [{"configMapRef": {"name": "f"}}, {"secretRef": {"name": "fs"}}]}
            ]
        },
        {("ConfigMap", "f"), ("Secret", "fs")},
    ),
    ({"imagePullSecrets": [{"name": "pull"}]}, {("Secret", "pull")}),
    (
        {
            "containers": [
                {"name": "c", "env": [{"name": "A", "value": "x"}, {"name": "B", "valueFrom": {"fieldRef": {}}}]}
            ],
            "volumes": [{"name": "e", "emptyDir": {}}],
        },
        set(),
    ),
]


@pytest.mark.parametrize("pod_spec, expected", DEPENDENCY_CASES)
@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"])
def test_dependencies(kind, pod_spec, expected):
    assert render.dependencies(pod_template_owner(kind, pod_spec)) == expected


def test_dependencies_of_objects_without_pod_template():
    assert render.dependencies(service()) == set()
    assert render.dependencies({"kind": "ConfigMap", "metadata": {"name": "x"}}) == set()


def test_dependencies_combined_and_deduplicated():
    pod_spec = {
        "volumes": [{"name": "a", "configMap": {"name": "shared"}}, {"name": "b", "secret": {"secretName": "tls"}}],
        "containers": [
            {"name": "c", "envFrom": [{"configMapRef": {"name": "shared"}}]},
            {"name": "d", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "tls", "key": "crt"}}}]},
        ],
        "imagePullSecrets": [{"name": "pull"}, {"name": ""}],
    }
    assert render.dependencies(pod_template_owner("Deployment", pod_spec)) == {
        ("ConfigMap", "shared"),
        ("Secret", "tls"),
        ("Secret", "pull"),
    }


# --------------------------------------------------------------------------
# Names, SyncWorks, hashing

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def test_syncwork_name_is_readable_and_includes_kind():
    assert render.syncwork_name(deployment(), "east") == "deployment.team.web"
    assert render.syncwork_name(service(), "east") == "service.team.web"


def test_syncwork_name_is_the_same_in_every_cluster_namespace():
    assert render.syncwork_name(deployment(), "east") == render.syncwork_name(deployment(), "west")


def test_syncwork_name_of_cluster_scoped_source():
    source = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "viewer"}}
    name = render.syncwork_name(source, "east")
    assert name.startswith("clusterrole.viewer-")  # rbac is not a plain group: hashed
    assert DNS_SUBDOMAIN.match(name)


def test_syncwork_name_hashes_custom_kinds():
    a = {"apiVersion": "a.example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "t"}}
    b = {"apiVersion": "b.example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "t"}}
    name_a, name_b = render.syncwork_name(a, "east"), render.syncwork_name(b, "east")
    assert name_a != name_b
    assert name_a.startswith("widget.t.w-")


def test_syncwork_name_truncates_long_names_with_a_hash():
    long_a = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a" * 250 + "x", "namespace": "team"}}
    long_b = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a" * 250 + "y", "namespace": "team"}}
    name_a, name_b = render.syncwork_name(long_a, "east"), render.syncwork_name(long_b, "east")
    assert len(name_a) <= 253 and len(name_b) <= 253
    assert name_a != name_b
    assert DNS_SUBDOMAIN.match(name_a)


def test_syncwork_name_sanitizes_unusual_names():
    odd = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Odd_Name", "namespace": "team"}}
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "odd-name", "namespace": "team"}}
    assert DNS_SUBDOMAIN.match(render.syncwork_name(odd, "east"))
    assert render.syncwork_name(odd, "east") != render.syncwork_name(plain, "east")


@pytest.mark.parametrize(
    "text, valid",
    [("web", True), ("a" * 63, True), ("a" * 64, False), ("x/y", False), ("-a", False), ("", True)],
)
def test_label_value(text, valid):
    value = render.label_value(text)
    assert (value == text) is valid
    assert len(value) <= 63
    assert re.match(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", value)


def test_build_syncwork_shape():
    source = deployment()
    before = copy.deepcopy(source)
    manifest = render_one(source, replicas=2)
    work = render.build_syncwork(source, "east", manifest, "spread", "Orphan")
    assert source == before
    assert work["apiVersion"] == "tmc.kcp.io/v1alpha1"
    assert work["kind"] == "SyncWork"
    meta = work["metadata"]
    assert meta["name"] == "deployment.team.web"
    assert meta["namespace"] == "tmc-cluster-east"
    assert meta["finalizers"] == [api.FINALIZER_SYNCER]
    assert meta["labels"] == {
        api.LABEL_CLUSTER: "east",
        api.LABEL_PLACEMENT: "spread",
        render.LABEL_SOURCE_NAMESPACE: "team",
        render.LABEL_SOURCE_NAME: "web",
        render.LABEL_SOURCE_KIND: "Deployment",
        render.LABEL_SOURCE_UID: UID,
    }
    assert meta["annotations"] == {
        api.ANNOTATION_SOURCE: f"team/web/{UID}",
        render.ANNOTATION_MANIFEST_HASH: render.manifest_hash(manifest),
    }
    assert work["spec"] == {
        "cluster": "east",
        "manifest": manifest,
        "source": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": "team",
            "name": "web",
            "uid": UID,
            "generation": 3,
        },
        "placement": "spread",
        "deletionPolicy": "Orphan",
    }
    work["spec"]["manifest"]["spec"]["replicas"] = 99
    assert manifest["spec"]["replicas"] == 2


def test_build_syncwork_without_placement_and_with_long_placement_name():
    manifest = render_one(deployment())
    work = render.build_syncwork(deployment(), "east", manifest, None)
    assert api.LABEL_PLACEMENT not in work["metadata"]["labels"]
    assert "placement" not in work["spec"]
    assert work["spec"]["deletionPolicy"] == "Delete"
    long_name = "p" * 100
    work = render.build_syncwork(deployment(), "east", manifest, long_name)
    assert work["spec"]["placement"] == long_name
    assert len(work["metadata"]["labels"][api.LABEL_PLACEMENT]) <= 63


def test_build_syncwork_for_cluster_scoped_source_without_uid_leaves_them_out():
    source = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "viewer"}}
    work = render.build_syncwork(source, "east", render_one(source), "p")
    assert work["spec"]["source"] == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "name": "viewer",
    }
    assert render.LABEL_SOURCE_NAMESPACE not in work["metadata"]["labels"]
    assert render.LABEL_SOURCE_UID not in work["metadata"]["labels"]
    assert work["metadata"]["annotations"][api.ANNOTATION_SOURCE] == "/viewer/"


def test_build_syncwork_refuses_bad_policy_and_too_long_cluster():
    manifest = render_one(deployment())
    with pytest.raises(api.SpecError) as err:
        render.build_syncwork(deployment(), "east", manifest, "p", "Keep")
    assert err.value.field == "spec.deletionPolicy"
    with pytest.raises(api.SpecError) as err:
        render.build_syncwork(deployment(), "c" * 52, manifest, "p")
    assert err.value.field == "cluster"


def test_manifest_hash_and_equality():
    a = {"b": [1, {"y": 2, "x": 1}], "a": "s"}
    b = {"a": "s", "b": [1.0, {"x": 1, "y": 2.0}]}
    assert render.manifest_equal(a, b)
    assert render.manifest_hash(a) == render.manifest_hash(b)
    assert re.fullmatch(r"[0-9a-f]{64}", render.manifest_hash(a))
    assert not render.manifest_equal(a, {"a": "s", "b": [1, {"x": 1, "y": 3}]})
    assert not render.manifest_equal({"a": True}, {"a": 1})
    assert not render.manifest_equal({"a": [1, 2]}, {"a": [2, 1]})
    assert render.manifest_hash({"a": 1.5}) != render.manifest_hash({"a": 1})


def test_manifest_hash_refuses_non_json_values():
    with pytest.raises(api.SpecError):
        render.manifest_hash({"a": float("nan")})
    with pytest.raises(api.SpecError):
        render.manifest_hash({"a": object()})
