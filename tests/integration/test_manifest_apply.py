"""manifest_apply on the real hub: check -> real -> repeat unchanged, diff, absent, bad input, Secret values hidden."""

from __future__ import annotations

import base64
import uuid

import pytest
from kubernetes import client

from ansible_collections.tmc.multicluster.plugins.module_utils import redact

from .ansible_cli import run_module, run_playbook


@pytest.fixture
def objects():
    ns = f"ma-{uuid.uuid4().hex[:8]}"
    return ns, [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": ns},
            "data": {"color": "blue"},
        },
    ]


def test_check_real_repeat_and_absent(hub_kubeconfig, hub_api_client, objects):
    ns, definitions = objects
    args = {"kubeconfig": str(hub_kubeconfig), "definitions": definitions}
    core = client.CoreV1Api(hub_api_client)

    check = run_module("manifest_apply", args, check=True)
    assert not check.failed, check.output
    assert check.changed
    assert ns not in {n.metadata.name for n in core.list_namespace().items}, "check mode must not create"

    real = run_module("manifest_apply", args, diff=True)
    assert not real.failed, real.output
    assert real.changed and [r["changed"] for r in real.result["results"]] == [True, True]
    assert real.result["results"][1]["diff"]["after"]["data"] == {"color": "blue"}
    assert core.read_namespaced_config_map("settings", ns).data == {"color": "blue"}

    repeat = run_module("manifest_apply", args)
    assert not repeat.failed and not repeat.changed, repeat.output
    assert not run_module("manifest_apply", args, check=True).changed

    definitions[1]["data"]["color"] = "green"
    changed = run_module("manifest_apply", args, check=True, diff=True)
    assert changed.changed
    assert changed.result["results"][1]["diff"]["before"]["data"] == {"color": "blue"}
    assert core.read_namespaced_config_map("settings", ns).data == {"color": "blue"}
    assert run_module("manifest_apply", args).changed
    assert core.read_namespaced_config_map("settings", ns).data == {"color": "green"}

    absent = {**args, "state": "absent"}
    assert run_module("manifest_apply", absent, check=True).changed
    assert core.read_namespaced_config_map("settings", ns)
    removed = run_module("manifest_apply", absent)
    assert removed.changed, removed.output
    assert ns not in {n.metadata.name for n in core.list_namespace().items}
    assert not run_module("manifest_apply", absent).changed


def test_bad_definitions_say_what_to_fix(hub_kubeconfig):
    missing_name = run_module(
        "manifest_apply",
        {"kubeconfig": str(hub_kubeconfig), "definitions": [{"apiVersion": "v1", "kind": "ConfigMap"}]},
    )
    assert missing_name.failed
    assert "definitions[0].metadata.name: is required" in missing_name.result["msg"]

    invalid = run_module(
        "manifest_apply",
        {
            "kubeconfig": str(hub_kubeconfig),
            "definitions": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Not_A_DNS_Label"}}],
        },
    )
    assert invalid.failed
    assert invalid.result["status"] == 422
    assert "metadata.name" in invalid.result["msg"]

    unknown = run_module(
        "manifest_apply",
        {
            "kubeconfig": str(hub_kubeconfig),
            "definitions": [{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}],
        },
    )
    assert unknown.failed
    assert "does not serve example.com/v1" in unknown.result["msg"]


def test_master_gate_off_fails_naming_the_gate(hub_kubeconfig, objects):
    definitions = objects[1]
    run = run_module(
        "manifest_apply",
        {"kubeconfig": str(hub_kubeconfig), "definitions": definitions, "feature_gates": {"TMC": False}},
    )
    assert run.failed
    assert "feature gate TMC is off" in run.result["msg"]


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _assert_hidden(run, *values):
    for value in values:
        assert value not in run.output, f"a Secret value leaked into the output:\n{run.output}"
        assert _b64(value) not in run.output, f"a Secret value (base64) leaked into the output:\n{run.output}"


def test_diff_never_shows_secret_values_but_shows_the_change(hub_kubeconfig, hub_api_client, tmp_path):
    ns = f"ma-secret-{uuid.uuid4().hex[:8]}"
    password, api_key, new_password = (f"{what}-{uuid.uuid4().hex}" for what in ("pw", "key", "pw2"))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": ns},
        "stringData": {"password": password},
        "data": {"api-key": _b64(api_key)},
    }
    args = {
        "kubeconfig": str(hub_kubeconfig),
        "definitions": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, secret],
    }
    core = client.CoreV1Api(hub_api_client)

    created = run_module("manifest_apply", args, diff=True, verbosity=3)
    assert not created.failed and created.changed, created.output
    _assert_hidden(created, password, api_key)
    stored = core.read_namespaced_secret("creds", ns).data
    assert base64.b64decode(stored["password"]).decode() == password, "the real value was applied"
    assert base64.b64decode(stored["api-key"]).decode() == api_key
    diff = created.result["results"][1]["diff"]
    assert diff["before"] == {}
    assert diff["after"]["data"] == {"password": redact.HIDDEN_AFTER, "api-key": redact.HIDDEN_AFTER}
    shown_args = created.result["invocation"]["module_args"]["definitions"][1]
    assert shown_args["stringData"] == {"password": redact.HIDDEN} and shown_args["data"] == {"api-key": redact.HIDDEN}

    assert not run_module("manifest_apply", args, diff=True).changed

    secret["stringData"]["password"] = new_password
    check = run_module("manifest_apply", args, check=True, diff=True, verbosity=3)
    assert not check.failed and check.changed, check.output
    _assert_hidden(check, password, new_password, api_key)
    diff = check.result["results"][1]["diff"]
    assert diff["before"]["data"] == {"password": redact.HIDDEN_BEFORE, "api-key": redact.HIDDEN_UNCHANGED}
    assert diff["after"]["data"] == {"password": redact.HIDDEN_AFTER, "api-key": redact.HIDDEN_UNCHANGED}
    assert check.result["diff"] == [
        {**diff, "before_header": f"Secret {ns}/creds", "after_header": f"Secret {ns}/creds"}
    ], "only the changed object, named, for --diff"
    stored = core.read_namespaced_secret("creds", ns).data
    assert base64.b64decode(stored["password"]).decode() == password, "check mode changed nothing"

    # What a person sees: ansible-playbook --diff -vvv prints the diff and the result.
    playbook = tmp_path / "secret.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - tmc.multicluster.manifest_apply:\n"
        "        kubeconfig: '{{ kubeconfig }}'\n"
        "        definitions: '{{ definitions }}'\n"
    )
    play = run_playbook(
        playbook,
        {"kubeconfig": args["kubeconfig"], "definitions": args["definitions"]},
        verbosity=3,
        env={"ANSIBLE_DIFF_ALWAYS": "1"},
    )
    output = play.stdout + play.stderr
    assert play.returncode == 0, output
    assert "changed=1" in output
    diff_lines = output.splitlines()
    assert any(line.startswith("-") and f'"password": "{redact.HIDDEN_BEFORE}"' in line for line in diff_lines), output
    assert any(line.startswith("+") and f'"password": "{redact.HIDDEN_AFTER}"' in line for line in diff_lines), output
    for value in (password, new_password, api_key):
        assert value not in output and _b64(value) not in output, f"a Secret value leaked:\n{output}"
    stored = core.read_namespaced_secret("creds", ns).data
    assert base64.b64decode(stored["password"]).decode() == new_password

    refused = run_module("manifest_apply", {**args, "feature_gates": {"TMC": False}}, verbosity=3)
    assert refused.failed
    _assert_hidden(refused, new_password, api_key)

    removed = run_module("manifest_apply", {**args, "state": "absent"}, diff=True, verbosity=3)
    assert removed.changed, removed.output
    _assert_hidden(removed, new_password, api_key)
