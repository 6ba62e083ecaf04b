"""What workload_sync and workload_info say when a request selects nothing, and what a timed-out
wait names (issue 18: an unknown placement or a namespace with no placement came back empty with
no word; a pull-mode cluster was an error). The pure parts of reconcile/sync and reconcile/views;
the modules' runs on the testbed are in tests/integration/test_workload_info.py,
test_workload_sync.py and test_retained_replicas.py."""

from __future__ import annotations

from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import sync, views

NS = "shop"


def _placement(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": NS}, "spec": {}}


def _plan(*outcomes: tuple[str, int]) -> planning.Plan:
    plan = planning.Plan(NS)
    plan.placements = [planning.PlacementOutcome(_placement(n), object(), workloads=w) for n, w in outcomes]
    return plan


def _request(**options) -> sync.PushRequest:
    return sync.PushRequest(namespace=NS, **options)


def _work(cluster: str, name: str, available: bool, deleting: bool = False) -> dict:
    meta = {"name": f"{cluster}-{name}", **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {})}
    return {
        "metadata": meta,
        "spec": {"cluster": cluster, "manifest": {"kind": "Deployment", "metadata": {"name": name}}},
        "status": {"available": available},
    }


def test_a_request_that_selects_something_warns_of_nothing():
    assert sync.selection_warnings(_request(), _plan(("web", 2)), ["member1"]) == []
    asked = _request(placement="web", clusters=("member1",))
    assert sync.selection_warnings(asked, _plan(("web", 2)), ["member1"]) == []


def test_a_namespace_without_placement_is_named():
    (warning,) = sync.selection_warnings(_request(), _plan(), ["member1"])
    assert warning == f"namespace {NS} has no WorkloadPlacement: nothing is placed, so nothing was synced"


def test_an_unknown_placement_is_named_with_those_that_exist():
    (warning,) = sync.selection_warnings(_request(placement="wbe"), _plan(("web", 1), ("db", 1)), [])
    assert warning == f"WorkloadPlacement wbe does not exist in namespace {NS} (it has: web, db): nothing was synced"


def test_a_placement_that_selects_nothing_is_named_only_when_asked_for():
    plan = _plan(("web", 1), ("empty", 0))
    (warning,) = sync.selection_warnings(_request(), plan, [])
    assert warning.startswith(f"WorkloadPlacement empty selects no workload in namespace {NS}: ")
    assert sync.selection_warnings(_request(placement="web"), plan, []) == []


def test_an_invalid_placement_is_an_error_not_an_empty_selection():
    plan = planning.Plan(NS)
    plan.placements = [planning.PlacementOutcome(_placement("bad"), None, "spec.x: wrong")]
    assert sync.selection_warnings(_request(), plan, []) == []


def test_unregistered_clusters_are_named():
    (warning,) = sync.selection_warnings(_request(clusters=("member1", "nope", "gone")), _plan(("web", 1)), ["member1"])
    assert warning == "not registered, so not synced: gone, nope"


def test_a_timed_out_wait_names_what_is_pending_and_whose_it_is():
    flat = [
        _work("member1", "web", available=False),
        _work("member2", "web", available=False),
        _work("member2", "db", available=True),
        _work("member1", "old", available=False, deleting=True),
    ]
    pending = sync._pending(flat, ["member2"])
    assert pending == "member1/Deployment/web, member2/Deployment/web (pull mode: applied by its syncer)"


def _view(workloads=()) -> dict:
    return {"namespace": NS, "workloads": list(workloads)}


def test_a_view_of_what_exists_warns_of_nothing():
    placements = [_placement("web")]
    assert views.view_warnings(_view([{}]), placements, "web", "member1", "Deployment", registered=True) == []
    assert views.view_warnings(_view(), placements, None, None, None, registered=True) == []


def test_a_view_says_why_it_is_empty():
    assert views.view_warnings(_view(), [], None, None, None, True) == [
        f"namespace {NS} has no WorkloadPlacement: nothing in it is placed"
    ]
    assert views.view_warnings(_view(), [_placement("web")], "wbe", None, None, True) == [
        f"WorkloadPlacement wbe does not exist in namespace {NS} (it has: web)"
    ]
    assert views.view_warnings(_view(), [_placement("web")], None, "nope", None, False) == [
        "cluster nope is not registered"
    ]
    assert views.view_warnings(_view(), [_placement("web")], "web", "member1", "CronJob", True) == [
        f"no workload of kind CronJob is placed in namespace {NS} for placement web on cluster member1"
    ]
