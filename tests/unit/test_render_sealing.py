"""Sealing a Secret's data to the member's syncer key (render.sealing), and what the SyncWork holds."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import render
from ansible_collections.tmc.multicluster.plugins.module_utils.render import sealing

VALUE = "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"  # base64 of super-secret-password


def secret(data=None, string_data=None) -> dict:
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": "db", "namespace": "team-a", "uid": "u-1", "resourceVersion": "42"},
    }
    if data is not None:
        obj["data"] = data
    if string_data is not None:
        obj["stringData"] = string_data
    return obj


@pytest.fixture(scope="module")
def key():
    return render.KeyPair.generate()


def sealed_work(key, source=None, cluster="east"):
    source = source or secret({"password": VALUE}, {"user": "admin"})
    manifest = render.render_manifest(source, cluster)
    clear, block = render.seal_manifest(manifest, cluster, key.public, source["metadata"]["resourceVersion"])
    return render.build_syncwork(source, cluster, clear, "web", sealed=block)


def test_a_secrets_syncwork_holds_no_value_and_opens_with_the_syncer_key(key):
    work = sealed_work(key)
    text = json.dumps(work)
    assert VALUE not in text and "admin" not in text
    assert "data" not in work["spec"]["manifest"] and "stringData" not in work["spec"]["manifest"]
    assert work["spec"]["sealed"]["recipient"] == key.id
    assert work["spec"]["sealed"]["sourceResourceVersion"] == "42"
    assert render.untrusted_reason(work) is None
    opened = render.unseal_manifest(work["spec"]["manifest"], work["spec"]["sealed"], "east", [key])
    assert opened["data"] == {"password": VALUE} and opened["stringData"] == {"user": "admin"}


def test_other_kinds_are_not_sealed(key):
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "a"},
        "data": {"k": "v"},
    }
    clear, block = render.seal_manifest(configmap, "east", key.public, "1")
    assert render.sensitive_fields(configmap) == ()
    assert clear == configmap and sealing.unseal(block, [key], sealing.context_of("east", clear)) == {}


def test_a_block_does_not_open_for_another_cluster_object_or_key(key):
    work = sealed_work(key)
    manifest, block = work["spec"]["manifest"], work["spec"]["sealed"]
    with pytest.raises(render.SealingError, match="does not open"):
        render.unseal_manifest(manifest, block, "west", [key])  # copied into another cluster's SyncWork
    renamed = copy.deepcopy(manifest)
    renamed["metadata"]["name"] = "other"
    with pytest.raises(render.SealingError, match="does not open"):
        render.unseal_manifest(renamed, block, "east", [key])  # copied onto another Secret
    with pytest.raises(render.SealingError, match="does not hold"):
        render.unseal_manifest(manifest, block, "east", [render.KeyPair.generate()])
    tampered = {
        **block,
        "ciphertext": block["ciphertext"][:-4] + ("AAAA" if block["ciphertext"][-4:] != "AAAA" else "BBBB"),
    }
    with pytest.raises(render.SealingError):
        render.unseal_manifest(manifest, tampered, "east", [key])


def test_a_rotated_ring_still_opens_what_the_old_key_sealed(key):
    work = sealed_work(key)
    ring = [render.KeyPair.generate(), key]
    assert render.unseal_manifest(work["spec"]["manifest"], work["spec"]["sealed"], "east", ring)["data"]


def test_two_sealings_differ_but_compare_equal_until_the_source_or_key_changes(key):
    first, second = sealed_work(key), sealed_work(key)
    assert first["spec"]["sealed"]["ciphertext"] != second["spec"]["sealed"]["ciphertext"]
    assert render.comparable_spec(first["spec"]) == render.comparable_spec(second["spec"])
    assert render.work_hash(first) == render.work_hash(second)
    changed = secret({"password": "bmV3"})
    changed["metadata"]["resourceVersion"] = "43"
    third = sealed_work(key, changed)
    assert render.comparable_spec(third["spec"]) != render.comparable_spec(first["spec"])
    assert render.work_hash(third) != render.work_hash(first)
    rotated = sealed_work(render.KeyPair.generate())
    assert render.comparable_spec(rotated["spec"]) != render.comparable_spec(first["spec"])


def test_an_unsealed_syncwork_hashes_as_before():
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "namespace": "a"}}
    manifest = render.render_manifest(deployment, "east")
    work = render.build_syncwork(deployment, "east", manifest, None)
    assert render.work_hash(work) == render.manifest_hash(manifest)
    assert render.comparable_spec(work["spec"]) is work["spec"]


def test_a_block_with_fields_its_kind_does_not_seal_is_refused(key):
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "a"}}
    block = sealing.seal({"data": {}, "spec": {"x": 1}}, key.public, sealing.context_of("east", manifest))
    with pytest.raises(render.SealingError, match="does not seal"):
        render.unseal_manifest(manifest, block, "east", [key])


def test_a_bad_public_key_is_an_explained_error():
    with pytest.raises(render.SealingError, match="not base64|not an X25519"):
        render.seal_manifest(secret({"a": "b"}), "east", "not a key!", "1")


@settings(max_examples=25, deadline=None)
@given(
    data=st.dictionaries(st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True), st.binary(max_size=64), max_size=4)
)
def test_any_secret_round_trips_and_never_shows(key, data):
    import base64

    encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
    work = sealed_work(key, secret(encoded))
    text = json.dumps(work)
    for value in encoded.values():
        if len(value) >= 8:
            assert value not in text
    opened = render.unseal_manifest(work["spec"]["manifest"], work["spec"]["sealed"], "east", [key])
    assert opened.get("data", {}) == encoded
