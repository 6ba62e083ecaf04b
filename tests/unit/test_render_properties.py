"""Property tests (hypothesis) for render: purity, idempotence, patch laws, name safety."""

from __future__ import annotations

import contextlib
import copy
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import api, render

# The machine is shared with long builds: keep example counts moderate.
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

dns_label = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\Z")
label_key = st.from_regex(r"\A([a-z]{1,8}\.io/)?[a-z][a-z0-9-]{0,8}\Z")
label_value = st.from_regex(r"\A[a-z0-9]{0,10}\Z")
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
images = st.sampled_from(
    [
        "nginx",
        "nginx:1.25",
        "bitnami/redis:7",
        "quay.io/org/app:v1",
        "localhost:5000/app",
        "docker.io/library/busybox",
        "ghcr.io/o/a@sha256:" + "d" * 64,
    ]
)


@st.composite
def containers(draw):
    container = {"name": draw(dns_label), "image": draw(images)}
    if draw(st.booleans()):
        container["env"] = [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": draw(dns_label), "key": "k"}}},
            {"name": "B", "value": draw(st.text(max_size=5))},
        ]
    return container


@st.composite
def pod_specs(draw):
    spec = {"containers": draw(st.lists(containers(), min_size=1, max_size=3))}
    if draw(st.booleans()):
        spec["initContainers"] = draw(st.lists(containers(), max_size=2))
    if draw(st.booleans()):
        spec["volumes"] = [{"name": "v", "secret": {"secretName": draw(dns_label)}}]
    return spec


@st.composite
def metadata(draw):
    meta = {
        "name": draw(dns_label),
        "namespace": draw(dns_label),
        "labels": draw(st.dictionaries(label_key, label_value, max_size=3)),
        "annotations": draw(st.dictionaries(label_key, st.text(max_size=8), max_size=3)),
    }
    server = {
        "uid": draw(st.uuids()).hex,
        "resourceVersion": str(draw(st.integers(1, 10**6))),
        "generation": draw(st.integers(1, 50)),
        "creationTimestamp": "2025-01-01T00:00:00Z",
        "managedFields": [{"manager": "kubectl"}],
        "finalizers": ["x.io/y"],
    }
    for key in draw(st.sets(st.sampled_from(sorted(server)))):
        meta[key] = server[key]
    if draw(st.booleans()):
        meta["annotations"][render.ANNOTATION_LAST_APPLIED] = "{}"
    return meta


@st.composite
def sources(draw):
    kind = draw(st.sampled_from(["Deployment", "StatefulSet", "DaemonSet", "Job", "Service", "ConfigMap", "Pod"]))
    meta = draw(metadata())
    obj = {"apiVersion": {"Job": "batch/v1", "Service": "v1", "ConfigMap": "v1", "Pod": "v1"}.get(kind, "apps/v1")}
    obj.update(kind=kind, metadata=meta)
    template = {"metadata": {"labels": {"app": meta["name"]}, "creationTimestamp": None}, "spec": draw(pod_specs())}
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        obj["spec"] = {"selector": {"matchLabels": {"app": meta["name"]}}, "template": template}
        if kind != "DaemonSet" and draw(st.booleans()):
            obj["spec"]["replicas"] = draw(st.integers(0, 10))
    elif kind == "Job":
        labels = template["metadata"]["labels"]
        if draw(st.booleans()):
            labels.update({"controller-uid": "u", "batch.kubernetes.io/job-name": meta["name"]})
            obj["spec"] = {"selector": {"matchLabels": {"controller-uid": "u"}}, "template": template}
        else:
            obj["spec"] = {"template": template}
    elif kind == "Service":
        svc_type = draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
        obj["spec"] = {
            "type": svc_type,
            "clusterIP": draw(st.sampled_from(["10.0.0.1", "None"])),
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": draw(st.sampled_from(["SingleStack", "PreferDualStack"])),
            "ports": [{"port": 80, "nodePort": 30080} if svc_type != "ClusterIP" else {"port": 80}],
        }
    elif kind == "ConfigMap":
        obj["data"] = draw(st.dictionaries(st.text(min_size=1, max_size=4), st.text(max_size=4), max_size=3))
    else:
        obj["spec"] = draw(pod_specs())
    if draw(st.booleans()):
        obj["status"] = {"observedGeneration": 1, "extra": draw(json_values)}
    return obj


@st.composite
def idempotent_overrides(draw):
    """Overrides that give the same result applied once or twice (merge patches, image rewrites)."""
    # One registry per example: a registry with a path prefix ("harbor.io/proxy") cannot be told
    # apart from a repository path once written, so two different ones stacked are not idempotent.
    registry = draw(st.sampled_from(["mirror.io", "localhost:5000", "harbor.io/proxy"]))
    entries = []
    for _index in range(draw(st.integers(0, 3))):
        entry = {}
        if draw(st.booleans()):
            entry["clusters"] = draw(st.lists(st.sampled_from(["east", "west"]), min_size=1, max_size=2))
        if draw(st.booleans()):
            entry["mergePatch"] = {"metadata": {"annotations": {"x.io/a": draw(st.none() | st.text(max_size=3))}}}
        if draw(st.booleans()):
            entry["image"] = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "registry": st.just(registry),
                        "tag": st.sampled_from(["v2", "stable"]),
                    },
                ).filter(bool)
            )
        entries.append(entry)
    return entries


@st.composite
def any_overrides(draw):
    """Overrides of every type, valid or not: rendering may refuse them, but never mutates."""
    ops = st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
            "path": st.sampled_from(["/metadata/labels/x", "/spec/replicas", "/spec/-", "/nope/a", "", "/metadata"]),
        },
        optional={"value": json_values, "from": st.sampled_from(["/metadata/labels", "/spec", "/x"])},
    )
    entry = st.fixed_dictionaries(
        {},
        optional={
            "jsonPatch": st.lists(ops, max_size=3),
            "mergePatch": st.dictionaries(st.sampled_from(["metadata", "spec", "data"]), json_values, max_size=2),
            "image": st.fixed_dictionaries({}, optional={"tag": st.sampled_from(["v1", "bad tag"])}),
            "clusterSelector": st.just({"matchLabels": {"region": "eu"}}),
        },
    )
    return draw(st.lists(entry, max_size=3))


def without_managed(manifest):
    out = copy.deepcopy(manifest)
    meta = out["metadata"]
    meta["labels"].pop(api.LABEL_MANAGED, None)
    meta["labels"].pop(api.LABEL_CLUSTER, None)
    meta["annotations"].pop(api.ANNOTATION_SOURCE, None)
    return out


@SETTINGS
@given(sources(), any_overrides(), st.none() | st.integers(0, 5), st.sampled_from(["east", "west"]))
def test_render_never_mutates_its_inputs(source, overrides, replicas, cluster):
    source_before, overrides_before = copy.deepcopy(source), copy.deepcopy(overrides)
    with contextlib.suppress(api.SpecError):
        render.render_manifest(source, cluster, replicas, overrides, {"region": "eu"})
    assert source == source_before
    assert overrides == overrides_before


@SETTINGS
@given(sources(), idempotent_overrides(), st.none() | st.integers(0, 5), st.sampled_from(["east", "west"]))
def test_render_is_idempotent_on_its_own_output(source, overrides, replicas, cluster):
    once = render.render_manifest(source, cluster, replicas, overrides)
    twice = render.render_manifest(once, cluster, replicas, overrides)
    assert without_managed(twice) == without_managed(once)
    assert twice["metadata"]["labels"][api.LABEL_CLUSTER] == cluster


@SETTINGS
@given(sources(), st.sampled_from(["east", "west"]))
def test_render_output_has_no_server_set_fields(source, cluster):
    out = render.render_manifest(source, cluster)
    assert "status" not in out
    assert not set(render.SERVER_SET_METADATA) & set(out["metadata"])
    assert out["metadata"]["labels"][api.LABEL_MANAGED] == "true"
    # The rendered manifest must be hashable as JSON and equal to itself after a copy.
    assert render.manifest_equal(out, copy.deepcopy(out))


@SETTINGS
@given(st.lists(st.text(max_size=6), max_size=5))
def test_json_pointer_round_trip(tokens):
    assert render.parse_pointer(render.format_pointer(tokens)) == tokens


@SETTINGS
@given(st.dictionaries(st.text(max_size=4), json_values, max_size=4), st.text(max_size=4), json_values)
def test_add_then_remove_of_a_new_key_is_identity(doc, key, value):
    if key in doc:
        return
    pointer = render.format_pointer([key])
    added = render.apply_json_patch(doc, [{"op": "add", "path": pointer, "value": value}])
    assert render.apply_json_patch(added, [{"op": "test", "path": pointer, "value": value}]) == added
    assert render.apply_json_patch(added, [{"op": "remove", "path": pointer}]) == doc


@SETTINGS
@given(json_values, json_values)
def test_merge_patch_is_idempotent(target, patch):
    once = render.apply_merge_patch(target, patch)
    assert render.apply_merge_patch(once, patch) == once


@SETTINGS
@given(st.dictionaries(st.text(max_size=4), json_values, max_size=5))
def test_manifest_hash_ignores_key_order(doc):
    reordered = dict(reversed(list(doc.items())))
    assert render.manifest_hash(doc) == render.manifest_hash(reordered)


@SETTINGS
@given(
    st.text(min_size=1, max_size=300),
    st.one_of(st.just(""), st.text(min_size=1, max_size=70)),
    st.sampled_from(["Deployment", "Service", "Widget", "ConfigMap"]),
    st.sampled_from(["apps/v1", "v1", "example.com/v1"]),
)
def test_syncwork_names_are_always_valid(name, namespace, kind, api_version):
    source = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}}
    work_name = render.syncwork_name(source, "east")
    assert len(work_name) <= 253
    assert DNS_SUBDOMAIN.match(work_name)


@SETTINGS
@given(st.lists(st.tuples(dns_label, dns_label), min_size=2, max_size=6, unique=True))
def test_syncwork_names_are_distinct_for_distinct_sources(pairs):
    names = {
        render.syncwork_name({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": ns, "name": n}}, "e")
        for ns, n in pairs
    }
    assert len(names) == len(pairs)


@SETTINGS
@given(st.text(max_size=100))
def test_label_values_are_always_valid(text):
    value = render.label_value(text)
    assert len(value) <= 63
    assert LABEL_VALUE.match(value)
