"""Backup documents and files (recovery.document, recovery.files): pure, no cluster."""

from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils.recovery import document, files

KEY = b"a key only the platform team holds, 32+ bytes"


def _secret(name="db", data=None):
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "team-a", "uid": "u-1", "resourceVersion": "9"},
        "type": "Opaque",
        "data": data if data is not None else {"password": "c3VwZXItc2VjcmV0LXZhbHVl"},
    }


def _work(manifest, cluster="member1"):
    return {
        "metadata": {"namespace": f"tmc-cluster-{cluster}", "name": "w"},
        "spec": {"cluster": cluster, "placement": "p", "manifest": manifest},
    }


def _sections(secret=None):
    secret = secret or _secret()
    return {
        "api": [],
        "namespaces": [],
        "registrations": [],
        "placements": [],
        "sources": [document.clean(secret)],
        "syncworks": [_work(document.clean(secret))],
    }


def _nonces():
    return iter(lambda: os.urandom(12), None)


def test_clean_drops_what_the_server_set_and_status():
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "shop",
            "namespace": "a",
            "uid": "x",
            "resourceVersion": "1",
            "managedFields": [{}],
            "generation": 3,
            "labels": {"app": "shop"},
            "annotations": {"deployment.kubernetes.io/revision": "2"},
        },
        "spec": {"replicas": 3},
        "status": {"replicas": 3},
    }
    assert document.clean(obj) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop", "namespace": "a", "labels": {"app": "shop"}},
        "spec": {"replicas": 3},
    }


def test_registration_keeps_only_its_sealing_keys_of_status():
    reg = {
        "apiVersion": "tmc.kcp.io/v1alpha1",
        "kind": "ClusterRegistration",
        "metadata": {"name": "east"},
        "spec": {"syncMode": "Pull"},
        "status": {"sealing": {"keys": ["pub"]}, "conditions": [{"type": "Ready"}]},
    }
    assert document.clean_registration(reg)["status"] == {"sealing": {"keys": ["pub"]}}


def test_no_secret_payload_in_clear_anywhere_in_the_document():
    box = document.SecretBox(KEY, os.urandom(16))
    doc = document.build(_sections(), "42", "2026-01-01T00:00:00+00:00", "https://hub", box, _nonces())
    text = json.dumps(doc)
    assert "c3VwZXItc2VjcmV0LXZhbHVl" not in text
    assert "super-secret-value" not in text
    assert '"data"' not in text
    back = document.decrypted(doc, document.SecretBox(KEY, document.salt_of(doc)))
    assert back["sources"][0]["data"] == {"password": "c3VwZXItc2VjcmV0LXZhbHVl"}
    assert back["syncworks"][0]["spec"]["manifest"]["data"] == {"password": "c3VwZXItc2VjcmV0LXZhbHVl"}


def test_a_secret_without_a_key_is_refused_naming_the_option():
    with pytest.raises(document.BackupError, match="secret_key_file"):
        document.build(_sections(), "42", "t", "h", None, _nonces())


def test_secrets_omit_leaves_out_every_secret():
    sections = document.omit_secrets(_sections())
    doc = document.build(sections, "42", "t", "h", None, _nonces())
    assert doc["sources"] == [] and doc["syncworks"] == []


def test_wrong_key_or_altered_ciphertext_is_refused():
    box = document.SecretBox(KEY, os.urandom(16))
    doc = document.build(_sections(), "42", "t", "h", box, _nonces())
    wrong = document.SecretBox(b"another key entirely, 32 bytes!!", document.salt_of(doc))
    with pytest.raises(document.BackupError, match="cannot decrypt"):
        document.decrypted(doc, wrong)
    # Moving a ciphertext onto another Secret (its identity is associated data) fails too.
    doc["sources"][0]["metadata"]["name"] = "other"
    with pytest.raises(document.BackupError, match="cannot decrypt"):
        document.decrypted(doc, document.SecretBox(KEY, document.salt_of(doc)))
    with pytest.raises(document.BackupError, match="give secret_key_file"):
        document.decrypted(doc, None)


def test_short_key_material_is_refused():
    with pytest.raises(document.BackupError, match="16 bytes"):
        document.SecretBox(b"short", os.urandom(16))


@settings(max_examples=20, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), min_size=1, max_size=4))
def test_digest_is_stable_across_salts_and_changes_with_the_payload(data):
    sections = _sections(_secret(data=data))
    first = document.digest(sections, document.SecretBox(KEY, os.urandom(16)))
    again = document.digest(sections, document.SecretBox(KEY, os.urandom(16)))
    assert first == again
    changed = _sections(_secret(data={**data, "extra-key": "x"}))
    assert document.digest(changed, document.SecretBox(KEY, os.urandom(16))) != first


def test_files_are_0600_in_a_0700_directory_and_retention_keeps_the_newest(tmp_path):
    old_umask = os.umask(0)  # even a permissive umask gives 0600
    try:
        where = tmp_path / "backups"
        names = [files.file_name(f"20260101T00000{i}.000000Z") for i in range(5)]
        for name in names:
            files.write(where, name, {"format": document.FORMAT, "n": name})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files.backups(where))
    (where / "notes.txt").write_text("not a backup")
    assert files.prune(where, 2) == names[:3]
    assert [p.name for p in files.backups(where)] == names[3:]
    assert (where / "notes.txt").exists()
    assert files.resolve(where).name == names[-1]
    assert files.read(files.resolve(where))["n"] == names[-1]


def test_reading_something_else_fails_clearly(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(document.BackupError, match="not a TMC hub backup"):
        files.read(bad)
    with pytest.raises(document.BackupError, match="no backup file"):
        files.resolve(tmp_path)
    with pytest.raises(document.BackupError, match="keep at least 1"):
        files.prune(tmp_path, 0)
