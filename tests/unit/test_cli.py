"""kubectl tmc, the pure parts: argument parsing, the three output formats, the drain and lose scenarios
what-if builds, and which admission policies the doctor expects (the commands run on the testbed in
tests/integration/test_cli.py)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health
from ansible_collections.tmc.multicluster.plugins.module_utils.cli import app, cordon, doctor, whatif
from ansible_collections.tmc.multicluster.plugins.module_utils.cli.output import Result, render

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def registration(name, **spec):
    return {"metadata": {"name": name, "labels": {}}, "spec": spec}


def test_output_formats_render_the_same_result():
    result = Result(
        {"clusters": [{"name": "east", "ready": "True", "taints": []}]},
        [("name", lambda r: r["name"]), ("ready", lambda r: r["ready"]), ("taints", lambda r: r["taints"])],
        [{"name": "east", "ready": "True", "taints": []}],
        ["1 cluster"],
    )
    assert json.loads(render(result, "json")) == result.data
    assert yaml.safe_load(render(result, "yaml")) == result.data
    lines = render(result, "table").splitlines()
    assert lines[0].split() == ["NAME", "READY", "TAINTS"] and lines[1].split() == ["east", "True", "-"]
    assert lines[-1] == "1 cluster"
    assert render(Result({}, result.columns, []), "table") == "No resources found."


def test_drained_cordons_and_adds_one_noexecute_taint_keeping_the_owners():
    before = registration("east", taints=[{"key": "gpu", "effect": "NoSchedule"}])
    after = cordon.drained(before)
    assert after["spec"]["unschedulable"] is True
    assert after["spec"]["taints"] == [
        {"key": "gpu", "effect": "NoSchedule"},
        {"key": cordon.TAINT_DRAINING, "effect": "NoExecute"},
    ]
    assert cordon.drained(after) == after  # once
    assert before["spec"] == {"taints": [{"key": "gpu", "effect": "NoSchedule"}]}  # a copy


def test_losing_a_cluster_is_a_heartbeat_past_the_eviction_timeout():
    thresholds = health.Thresholds(40, 300)
    regs = [registration("east"), registration("west")]
    fresh = {"spec": {"renewTime": NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
    changed_regs, leases = whatif.hypothetical(regs, {"east": fresh, "west": fresh}, "east", None, NOW, thresholds)
    assert changed_regs == regs and leases["west"] is fresh
    verdict = health.evaluate(regs[0], leases["east"], NOW, thresholds)
    assert verdict.ready == "Unknown" and verdict.heartbeat_age > thresholds.eviction
    assert {(t["key"], t["effect"]) for t in verdict.taints} >= {(api.TAINT_UNREACHABLE, "NoExecute")}


def test_what_if_names_an_unknown_cluster():
    with pytest.raises(api.SpecError, match="no-such"):
        whatif.hypothetical([registration("east")], {}, "no-such", None, NOW, health.Thresholds())


def test_doctor_expects_every_policy_and_binding_the_hub_role_ships(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "policies.yaml").write_text(
        yaml.safe_dump(
            [
                {"kind": "ValidatingAdmissionPolicy", "metadata": {"name": "a"}},
                {"kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": "a"}},
                {"kind": "ConfigMap", "metadata": {"name": "tmc-policy"}},
            ]
        )
    )
    # The hub role renders some policies from a template (Jinja inside, so not YAML until rendered).
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "policies.yaml.j2").write_text(
        "{# an allow-list is rendered in #}\n---\n"
        "- apiVersion: admissionregistration.k8s.io/v1\n  kind: ValidatingAdmissionPolicy\n"
        "  metadata:\n    name: tmc-placement-kinds\n    labels: &labels\n      app: tmc\n"
        "  spec:\n    validations:\n      - expression: >-\n          {{ kinds | to_json }}.exists(k, k == 'x')\n"
        "- apiVersion: admissionregistration.k8s.io/v1\n  kind: ValidatingAdmissionPolicyBinding\n"
        "  metadata:\n    name: tmc-placement-kinds\n    labels: *labels\n"
    )
    assert doctor.shipped_policies(tmp_path) == [
        ("ValidatingAdmissionPolicy", "a"),
        ("ValidatingAdmissionPolicyBinding", "a"),
        ("ValidatingAdmissionPolicy", "tmc-placement-kinds"),
        ("ValidatingAdmissionPolicyBinding", "tmc-placement-kinds"),
    ]
    assert doctor.shipped_policies(tmp_path / "none") == []


def test_every_policy_the_hub_role_ships_comes_with_its_binding():
    """Whatever the hub role ships, each policy comes with its binding (the names doctor looks for)."""
    shipped = doctor.shipped_policies()
    policies = sorted(n for k, n in shipped if k == "ValidatingAdmissionPolicy")
    assert policies == sorted(n for k, n in shipped if k == "ValidatingAdmissionPolicyBinding")


def test_arguments():
    args = app.parser().parse_args(["-o", "json", "what-if", "--lose", "east"])
    assert (args.command, args.lose, args.drain, args.output) == ("what-if", "east", None, "json")
    with pytest.raises(SystemExit):
        app.parser().parse_args(["what-if", "--lose", "a", "--drain", "b"])
    with pytest.raises(SystemExit):
        app.parser().parse_args(["doctor", "--daemon", "no-url"])
    args = app.parser().parse_args(["clusters", "-o", "yaml", "--kubeconfig", "/k"])
    assert (args.output, args.kubeconfig) == ("yaml", "/k")  # flags after the command, as kubectl users write them
    args = app.parser().parse_args(["-o", "json", "placements"])
    assert args.output == "json"
    args = app.parser().parse_args(["doctor", "--daemon", "s=http://127.0.0.1:1"])
    assert args.daemon == [("s", "http://127.0.0.1:1")]


def test_doctor_reports_a_daemon_that_does_not_answer():
    (finding,) = doctor.check_endpoints({"syncer-east": "http://127.0.0.1:9"}, timeout=1)
    assert finding.status == "fail" and "does not answer" in finding.message and finding.fix
