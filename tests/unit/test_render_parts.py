"""render's parts: JSON Pointer/Patch and merge patch, image references, dependencies, SyncWork names and shape."""

from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api, render

from .render_objects import UID, deployment, render_one, service

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
