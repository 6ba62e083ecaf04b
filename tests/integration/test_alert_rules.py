"""The shipped alerting and recording rules, checked by the real promtool (built from the Prometheus Go
module): they parse, every alert has a unit test that makes it fire, and every alert links a runbook
that exists and says what to do. No testbed needed; promtool is built once (hack/testbed/build-prometheus.sh)."""

from __future__ import annotations

import re

import pytest
import yaml

from hack.testbed.prometheus import promtool

from ..conftest import REPO

RULE_FILES = sorted(REPO.glob("roles/*/files/prometheus/*.rules.yml"))
TEST_FILES = sorted((REPO / "tests" / "monitoring").glob("*.test.yml"))
RUNBOOKS = REPO / "docs" / "operations" / "runbooks"
RUNBOOK_URL = re.compile(
    r"^https://github\.com/tmc-multicluster/tmc\.multicluster/blob/main/(docs/operations/runbooks/.+\.md)$"
)
RUNBOOK_SECTIONS = ("## Symptom", "## Impact", "## Diagnosis", "## Fix")


def alerts() -> list[dict]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_the_roles_ship_rule_files():
    assert {p.parent.parent.parent.name for p in RULE_FILES} == {"controller", "syncer"}


def test_promtool_check_rules_accepts_every_rule_file():
    result = promtool("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_rules_rejects_a_broken_rule(tmp_path):
    """The check above can fail: a rule with a PromQL syntax error is refused."""
    broken = tmp_path / "broken.rules.yml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(up[5m])\n")
    result = promtool("check", "rules", str(broken))
    assert result.returncode != 0


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules(test_file):
    result = promtool("test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_that_makes_it_fire():
    fired = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fired == set(), "alerts without a promtool test that fires them"


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_every_alert_links_its_runbook(rule):
    annotations = rule.get("annotations", {})
    assert rule.get("labels", {}).get("severity") in ("critical", "warning")
    assert annotations.get("summary") and annotations.get("description")
    match = RUNBOOK_URL.match(annotations.get("runbook_url", ""))
    assert match, f"{rule['alert']}: runbook_url {annotations.get('runbook_url')!r}"
    runbook = REPO / match.group(1)
    assert runbook.is_file(), f"{rule['alert']}: no {runbook.relative_to(REPO)}"
    text = runbook.read_text()
    for section in RUNBOOK_SECTIONS:
        assert section in text, f"{runbook.name} lacks {section}"
    assert rule["alert"] in text, f"{runbook.name} does not name the alert {rule['alert']}"


def test_every_runbook_is_linked_from_the_index():
    index = (RUNBOOKS / "README.md").read_text()
    for runbook in RUNBOOKS.glob("*.md"):
        if runbook.name != "README.md":
            assert f"({runbook.name})" in index, f"{runbook.name} missing from runbooks/README.md"


def test_role_prometheus_rules_are_the_shipped_files():
    """The PrometheusRule the roles install is the plain rule file, not a second copy that can drift."""
    for role in ("controller", "syncer"):
        template = (REPO / "roles" / role / "templates" / f"{role}-kubernetes.yaml.j2").read_text()
        assert f"lookup('ansible.builtin.file', 'prometheus/tmc-{role}.rules.yml')" in template
        assert "alert:" not in template


def test_rule_files_are_in_the_built_collection():
    """ansible-galaxy build ships roles/*/files; nothing in galaxy.yml's build_ignore drops them."""
    ignored = yaml.safe_load((REPO / "galaxy.yml").read_text()).get("build_ignore", [])
    for path in RULE_FILES:
        relative = str(path.relative_to(REPO))
        assert not any(relative.startswith(i.rstrip("/")) for i in ignored), relative


def test_recording_rules_follow_the_naming_convention():
    """level:metric:operations (Prometheus's recording rule convention), all under tmc:."""
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    assert re.fullmatch(r"tmc:[a-z0-9_]+:[a-z0-9_]+", rule["record"]), rule["record"]
