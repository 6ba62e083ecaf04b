"""Secret values hidden in what modules return (pure)."""

from __future__ import annotations

import copy
import json

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import redact

values = st.text(min_size=1, max_size=20).filter(lambda v: "VALUE_HIDDEN" not in v)
secret_data = st.dictionaries(st.from_regex(r"[a-z][a-z0-9.-]{0,10}", fullmatch=True), values, max_size=5)


def secret(data=None, string_data=None, **meta) -> dict:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "team-a", **meta}}
    if data is not None:
        obj["data"] = data
    if string_data is not None:
        obj["stringData"] = string_data
    return obj


def test_secret_values_are_hidden_and_keys_kept():
    obj = secret({"password": "aHVudGVyMg=="}, {"token": "s3cr3t"})
    hidden = redact.redact_object(obj)
    assert hidden["data"] == {"password": redact.HIDDEN}
    assert hidden["stringData"] == {"token": redact.HIDDEN}
    assert hidden["metadata"] == obj["metadata"]
    assert obj["data"] == {"password": "aHVudGVyMg=="}, "the input is not modified"


def test_other_kinds_are_returned_unchanged():
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"color": "blue"}}
    assert redact.redact_object(config) == config
    assert redact.redact_object(None) is None
    assert redact.redact_object({}) == {}


def test_secrets_inside_a_list_are_hidden():
    listed = {"apiVersion": "v1", "kind": "SecretList", "items": [secret({"a": "Yg=="})]}
    assert redact.redact_object(listed)["items"][0]["data"] == {"a": redact.HIDDEN}


def test_last_applied_configuration_is_hidden_but_kept_readable():
    recorded = json.dumps(secret({"password": "aHVudGVyMg=="}))
    obj = secret({"password": "aHVudGVyMg=="}, annotations={redact.LAST_APPLIED: recorded, "team": "a"})
    annotations = redact.redact_object(obj)["metadata"]["annotations"]
    assert "aHVudGVyMg==" not in json.dumps(annotations)
    assert json.loads(annotations[redact.LAST_APPLIED])["data"] == {"password": redact.HIDDEN}
    assert annotations["team"] == "a"


def test_unparsable_last_applied_configuration_is_hidden_whole():
    obj = secret({"a": "Yg=="}, annotations={redact.LAST_APPLIED: "not json aHVudGVyMg=="})
    assert redact.redact_object(obj)["metadata"]["annotations"][redact.LAST_APPLIED] == redact.HIDDEN


def test_diff_marks_each_key_unchanged_changed_added_or_removed():
    before = secret({"same": "c2FtZQ==", "changed": "b2xk", "removed": "Z29uZQ=="})
    after = secret({"same": "c2FtZQ==", "changed": "bmV3", "added": "YWRkZWQ="})
    hidden_before, hidden_after = redact.redact_diff(before, after)
    assert hidden_before["data"] == {
        "same": redact.HIDDEN_UNCHANGED,
        "changed": redact.HIDDEN_BEFORE,
        "removed": redact.HIDDEN_BEFORE,
    }
    assert hidden_after["data"] == {
        "same": redact.HIDDEN_UNCHANGED,
        "changed": redact.HIDDEN_AFTER,
        "added": redact.HIDDEN_AFTER,
    }


def test_diff_of_a_created_or_deleted_secret():
    created_before, created_after = redact.redact_diff({}, secret({"a": "Yg=="}))
    assert created_before == {} and created_after["data"] == {"a": redact.HIDDEN_AFTER}
    deleted_before, deleted_after = redact.redact_diff(secret({"a": "Yg=="}), {})
    assert deleted_before["data"] == {"a": redact.HIDDEN_BEFORE} and deleted_after == {}


def test_diff_of_a_field_that_appears():
    hidden_before, hidden_after = redact.redact_diff(secret({"a": "Yg=="}), secret({"a": "Yg=="}, {"b": "c"}))
    assert "stringData" not in hidden_before
    assert hidden_after["stringData"] == {"b": redact.HIDDEN_AFTER}
    assert hidden_after["data"] == {"a": redact.HIDDEN_UNCHANGED}


def test_diff_of_other_kinds_is_untouched():
    before = {"kind": "ConfigMap", "data": {"color": "blue"}}
    after = {"kind": "ConfigMap", "data": {"color": "green"}}
    assert redact.redact_diff(before, after) == (before, after)


@given(secret_data, secret_data)
def test_no_value_survives_a_diff_and_changed_keys_differ(old, new):
    before, after = secret(old), secret(new)
    originals = copy.deepcopy((before, after))
    hidden_before, hidden_after = redact.redact_diff(before, after)
    assert (before, after) == originals, "the inputs are not modified"
    for side in (hidden_before, hidden_after):
        assert set(side["data"].values()) <= {redact.HIDDEN_UNCHANGED, redact.HIDDEN_BEFORE, redact.HIDDEN_AFTER}
    assert set(hidden_before["data"]) == set(old) and set(hidden_after["data"]) == set(new)
    for key in set(old) | set(new):
        same = old.get(key) == new.get(key)
        assert (hidden_before["data"].get(key) == hidden_after["data"].get(key)) == same


def test_module_arguments_hide_secrets_among_definitions():
    params = {
        "kubeconfig": "/k",
        "definitions": [secret(string_data={"token": "s3cr3t"}), {"kind": "ConfigMap", "data": {"x": "y"}}],
    }
    hidden = redact.redact_definitions(params)
    assert hidden["definitions"][0]["stringData"] == {"token": redact.HIDDEN}
    assert hidden["definitions"][1] == params["definitions"][1]
    assert params["definitions"][0]["stringData"] == {"token": "s3cr3t"}
    assert redact.redact_definitions({"definitions": None}) == {"definitions": None}


# ------------------------------------------------------------------ Secrets inside other objects


def _secret(value: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": value}}


def test_a_secret_inside_a_syncwork_manifest_is_hidden():
    work = {
        "apiVersion": "tmc.kcp.io/v1alpha1",
        "kind": "SyncWork",
        "metadata": {"name": "secret.team-a.db"},
        "spec": {"cluster": "east", "manifest": _secret("c2VjcmV0LXZhbHVl")},
    }
    hidden = redact.redact_object(work)
    assert hidden["spec"]["manifest"]["data"] == {"password": redact.HIDDEN}
    assert "c2VjcmV0LXZhbHVl" not in json.dumps(hidden)
    assert work["spec"]["manifest"]["data"]["password"] == "c2VjcmV0LXZhbHVl"  # the input is not changed


def test_a_secret_recorded_in_another_objects_last_applied_annotation_is_hidden():
    recorded = {"kind": "SyncWork", "spec": {"manifest": _secret("dG9wLXNlY3JldA==")}}
    obj = {
        "kind": "SyncWork",
        "metadata": {"annotations": {redact.LAST_APPLIED: json.dumps(recorded)}},
    }
    assert "dG9wLXNlY3JldA==" not in json.dumps(redact.redact_object(obj))


def test_a_diff_of_an_object_that_embeds_a_secret_hides_it_on_both_sides():
    before = {"kind": "Bundle", "spec": {"items": [_secret("b2xkLXZhbHVl")]}}
    after = {"kind": "Bundle", "spec": {"items": [_secret("bmV3LXZhbHVl")]}}
    hidden_before, hidden_after = redact.redact_diff(before, after)
    text = json.dumps([hidden_before, hidden_after])
    assert "b2xkLXZhbHVl" not in text and "bmV3LXZhbHVl" not in text


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@given(document=_json, path=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4))
def test_a_secret_planted_anywhere_never_shows(document, path):
    value = "UExBTlRFRC1TRUNSRVQ="  # not a string hypothesis generates (max_size=8 texts)
    tree: dict = {"root": document}
    node = tree
    for key in path:
        node[key] = {"beside": document}
        node = node[key]
    node["planted"] = [document, _secret(value)]
    assert value not in json.dumps(redact.redact_object(tree))
    assert value not in json.dumps(redact.redact_diff(tree, {})[0])
