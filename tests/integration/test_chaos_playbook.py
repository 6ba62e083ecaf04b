"""playbooks/chaos.yml, short profile, against the session testbed: the scenarios' own assertions and their reports.

CI runs two scenarios to stay within its time budget (``TMC_CHAOS_TAGS`` picks others): syncer_partition
(the syncer's partition contract) and controller_crash (leader hand-over, no update lost or applied twice).
member_loss, apiserver_slow and hub_etcd_restart run in ``make chaos`` (full profile, all five) and in the
molecule scenario ``chaos``; test_daemons.py covers failover on member loss.
"""

from __future__ import annotations

import json
import os

from kubernetes import client

from ..conftest import REPO
from .ansible_cli import run_playbook

TAGS = os.environ.get("TMC_CHAOS_TAGS", "syncer_partition,controller_crash")


def test_chaos_playbook_short(tmc_hub, member_api_clients, tmp_path):
    bed = tmc_hub
    reports = tmp_path / "reports"
    run = run_playbook(
        REPO / "playbooks" / "chaos.yml",
        extra_vars={"tmc_chaos_profile": "short", "tmc_chaos_report_dir": str(reports)},
        env={"TMC_TESTBED_STATE": str(bed.dir), "ANSIBLE_RUN_TAGS": TAGS},
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "chaos passed: " in run.stdout
    summary = json.loads((reports / "summary.json").read_text())
    ran = [s["scenario"] for s in summary["scenarios"]]
    assert ran == [
        t
        for t in ("syncer_partition", "controller_crash", "apiserver_slow", "hub_etcd_restart", "member_loss")
        if t in TAGS.split(",")
    ]
    assert summary["objects_lost"] == 0 and summary["objects_duplicated"] == 0
    for name in ran:
        report = json.loads((reports / f"{name}.json").read_text())
        assert report["passed"] is True, report
        assert report["objects_lost"] == 0 and report["objects_duplicated"] == 0, report
    by_name = {s["scenario"]: s for s in summary["scenarios"]}
    if "syncer_partition" in by_name:
        assert by_name["syncer_partition"]["pods_replaced"] == 0
    if "controller_crash" in by_name:
        crash = by_name["controller_crash"]
        assert crash["new_leader"] != crash["killed_leader"]
        assert set(crash["deployment_generation_deltas"]) == {1}
    if "member_loss" in by_name:
        loss = by_name["member_loss"]
        assert loss["spare_member"] in loss["failover_after"] and loss["lost_member"] not in loss["failover_after"]
    # The teardown removed the run's workloads from the members (its namespace goes with them).
    for name, api in member_api_clients.items():
        deployments = client.AppsV1Api(api).list_namespaced_deployment("tmc-chaos").items
        assert deployments == [], (name, [d.metadata.name for d in deployments])
