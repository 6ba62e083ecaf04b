"""playbooks/chaos.yml, short profile, against the session testbed: the scenarios' own assertions and their reports.

CI runs four scenarios to stay within its time budget (``TMC_CHAOS_TAGS`` picks others): syncer_partition
(the syncer's partition contract), controller_crash (leader hand-over, no update lost or applied twice),
leader_link_hang and leader_freeze (one writer at a time, from the hub's audit log). member_loss,
apiserver_slow, hub_etcd_restart, member_clock_skew and hub_apiserver_restart run in ``make chaos`` (full
profile, all nine) and in the molecule scenario ``chaos``; test_daemons.py covers failover on member loss.
"""

from __future__ import annotations

import json
import os

from kubernetes import client

from ..conftest import REPO
from .ansible_cli import free_members, run_playbook

TAGS = os.environ.get("TMC_CHAOS_TAGS", "syncer_partition,controller_crash,leader_link_hang,leader_freeze")
SCENARIOS = (
    "syncer_partition",
    "controller_crash",
    "apiserver_slow",
    "hub_etcd_restart",
    "member_loss",
    "leader_link_hang",
    "leader_freeze",
    "member_clock_skew",
    "hub_apiserver_restart",
)
ONE_WRITER = ("controller_crash", "leader_link_hang", "leader_freeze", "member_clock_skew", "hub_apiserver_restart")


def test_chaos_playbook_short(tmc_hub, member_api_clients, tmp_path):
    bed = tmc_hub
    free_members(bed)  # one registration per member: the playbook registers them under its own names
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
    assert ran == [t for t in SCENARIOS if t in TAGS.split(",")]
    assert summary["objects_lost"] == 0 and summary["objects_duplicated"] == 0
    for name in ran:
        report = json.loads((reports / f"{name}.json").read_text())
        assert report["passed"] is True, report
        assert report["objects_lost"] == 0 and report["objects_duplicated"] == 0, report
        if name in ONE_WRITER:  # the hub's audit log: never two controller replicas writing in one lease window
            assert report["audit"]["single_writer"] is True, report["audit"]
            assert float(report["audit"]["max_overlap_seconds"]) == 0.0, report["audit"]
    by_name = {s["scenario"]: s for s in summary["scenarios"]}
    if "syncer_partition" in by_name:
        assert by_name["syncer_partition"]["pods_replaced"] == 0
    if "controller_crash" in by_name:
        crash = by_name["controller_crash"]
        assert crash["new_leader"] != crash["killed_leader"]
        assert set(crash["deployment_generation_deltas"]) == {1}
        assert float(crash["observed_gaps"]["reached_members_after_election_seconds"]) <= 5
    if "member_loss" in by_name:
        loss = by_name["member_loss"]
        assert loss["spare_member"] in loss["failover_after"] and loss["lost_member"] not in loss["failover_after"]
    # The teardown removed the run's workloads from the members (its namespace goes with them).
    for name, api in member_api_clients.items():
        deployments = client.AppsV1Api(api).list_namespaced_deployment("tmc-chaos").items
        assert deployments == [], (name, [d.metadata.name for d in deployments])
