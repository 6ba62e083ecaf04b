"""The testbed's audit log reader (hack/testbed/audit.py) on events as the API server writes them."""

from __future__ import annotations

import json

from hack.testbed import audit


def event(agent, verb, resource, name, start, end=None, code=200, group="tmc.kcp.io", namespace="tmc-cluster-a"):
    def stamp(seconds):
        return f"2026-12-07T17:00:{seconds:09.6f}Z"

    return {
        "kind": "Event",
        "stage": "ResponseComplete",
        "verb": verb,
        "userAgent": agent,
        "objectRef": {"apiGroup": group, "resource": resource, "namespace": namespace, "name": name},
        "responseStatus": {"code": code},
        "requestReceivedTimestamp": stamp(start),
        "stageTimestamp": stamp(end if end is not None else start + 0.01),
    }


def lease(agent, start, code=200):
    return event(
        agent,
        "update",
        "leases",
        "tmc-controller",
        start,
        code=code,
        group="coordination.k8s.io",
        namespace="tmc-chaos",
    )


A, B = "tmc-controller/a", "tmc-controller/b"


def judge(events):
    return audit.leadership(audit.writes(events), "tmc-controller", "tmc-chaos")


def test_a_clean_handover_has_no_overlap():
    report = judge(
        [
            lease(A, 1),
            event(A, "create", "syncworks", "w1", 2),
            lease(A, 3),
            event(A, "patch", "syncworks", "w1", 4),
            lease(B, 20, code=409),
            lease(B, 22),
            event(B, "patch", "syncworks", "w1", 23),
        ]
    )
    assert report["single_writer"] and report["max_overlap_seconds"] == 0.0
    assert [t["agent"] for t in report["terms"]] == [A, B]
    assert report["handovers"] == [{"from": A, "to": B, "gap_seconds": 18.99}]


def test_a_write_of_the_old_leader_after_the_take_over_is_a_violation_and_an_overlap():
    report = judge(
        [
            lease(A, 1),
            event(A, "create", "syncworks", "w1", 2),
            lease(B, 20),
            event(B, "patch", "syncworks", "w1", 21),
            event(A, "patch", "syncworks", "w2", 24, end=24.5, code=409),  # even refused: it was sent
        ]
    )
    assert not report["single_writer"] and report["violation_count"] == 1
    assert report["violations"][0]["holder"] == B and report["violations"][0]["into_term_seconds"] == 3.99
    assert report["max_overlap_seconds"] == 4.49  # from b's term (20.01) until a's write was answered (24.5)


def test_writes_before_any_term_and_other_agents_writes():
    report = judge([event(A, "create", "syncworks", "w1", 1), event("tmc-syncer/east", "patch", "syncworks", "w1", 2)])
    assert report["violation_count"] == 1 and report["violations"][0]["holder"] is None
    assert report["identities"] == [A]


def test_reads_rotated_files_in_order_and_skips_cut_lines(tmp_path):
    old = tmp_path / "audit-2026-12-07T16-00-00.000.log"
    old.write_text(json.dumps(lease(A, 1)) + "\n" + '{"kind": "Event", "sta')
    (tmp_path / "audit.log").write_text(json.dumps(lease(B, 30)) + "\n")
    import os

    os.utime(old, (1, 1))
    found = audit.writes(audit.events(tmp_path))
    assert [w.agent for w in found] == [A, B]
    assert audit.per_agent(found, bucket=60) == {
        A: {audit.writes([lease(A, 1)])[0].start // 60 * 60: 1},
        B: {found[1].start // 60 * 60: 1},
    }
