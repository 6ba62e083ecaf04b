"""manifest_apply on the real hub: check mode -> real -> repeat is unchanged, diff, absent, bad input."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from .ansible_cli import run_module


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
