"""status.SummaryCounts: the placement summary kept one SyncWork at a time equals summarize() over them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import status


def syncwork(name, cluster, kind, applied, available, degraded, generation, observed, deleting):
    work = {
        "metadata": {"name": name, "namespace": f"tmc-cluster-{cluster}", "generation": generation},
        "spec": {"cluster": cluster, "source": {"kind": kind}},
        "status": {
            "applied": applied,
            "available": available,
            "observedGeneration": observed,
            "conditions": [{"type": "Degraded", "status": "True" if degraded else "False"}],
        },
    }
    if deleting:
        work["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return work


works = st.builds(
    syncwork,
    name=st.sampled_from(["a", "b", "c", "d", "e", "f"]),
    cluster=st.sampled_from(["east", "west", "north"]),
    kind=st.sampled_from(["Deployment", "Service", "ConfigMap"]),
    applied=st.booleans(),
    available=st.booleans(),
    degraded=st.booleans(),
    generation=st.integers(min_value=1, max_value=3),
    observed=st.integers(min_value=1, max_value=3),
    deleting=st.booleans(),
)
groups = st.sampled_from([("ns1", "web"), ("ns1", "db"), ("ns2", "web")])
events = st.lists(st.tuples(groups, works, st.booleans()), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(events=events)
def test_incremental_counts_equal_a_fresh_summary_after_every_event(events):
    counts = status.SummaryCounts()
    current: dict = {}  # key -> (group, work): what the watch cache would hold
    for group, work, gone in events:
        key = (work["metadata"]["namespace"], work["metadata"]["name"])
        if gone:
            current.pop(key, None)
            counts.update(key, group, None)
        else:
            current[key] = (group, work)  # a SyncWork may even move between groups
            counts.update(key, group, work)
        for each in {g for g, _w, _gone in events}:
            expected = status.summarize([w for g, w in current.values() if g == each])
            assert counts.summarize(each) == expected


def test_a_group_with_nothing_left_summarizes_empty():
    counts = status.SummaryCounts()
    work = syncwork("a", "east", "Deployment", True, True, False, 1, 1, False)
    counts.update(("tmc-cluster-east", "a"), ("ns", "p"), work)
    assert counts.summarize(("ns", "p"))["summary"] == [
        {"cluster": "east", "applied": 1, "available": 1, "degraded": 0}
    ]
    counts.update(("tmc-cluster-east", "a"), ("ns", "p"), None)
    assert counts.summarize(("ns", "p")) == {"summary": [], "kinds": []}


@settings(max_examples=200, deadline=None)
@given(events=events)
def test_rows_are_shared_and_forgotten_with_their_group(events):
    """Thousands of SyncWorks in one state keep one row between them, and a group that is gone keeps none."""
    counts = status.SummaryCounts()
    for group, work, gone in events:
        key = (work["metadata"]["namespace"], work["metadata"]["name"])
        counts.update(key, group, None if gone else work)
        live = list(counts._rows.values())
        assert len({id(row) for row in live}) == len(set(live))  # equal rows are one object
        assert {row[0] for row in counts._shared} <= {row[0] for row in live}


def test_many_syncworks_in_one_state_share_one_row():
    counts = status.SummaryCounts()
    for i in range(100):
        work = syncwork(f"w{i}", "east", "Deployment", True, True, False, 1, 1, False)
        counts.update(("tmc-cluster-east", f"w{i}"), ("ns", "p"), work)
    assert len({id(row) for row in counts._rows.values()}) == 1
