"""A tenant's predicate as costly as the CEL budget allows hurts no one else (issue 17, class 4).

On the testbed, with the controller leader-elected as it runs by default: team-a's placement carries
the costliest predicates the engine accepts and is re-decided over and over (its workload keeps
changing); meanwhile team-b's new placement gets its SyncWorks, team-a's keeps being re-evaluated, and
the leader Lease (read from the hub with the official client) keeps its holder and keeps being renewed.
How long team-b waited is measured by benchmarks/cel_neighbour.py, not asserted here.
"""

from __future__ import annotations

import threading
import uuid

from kubernetes import client

from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel_cost

from . import security_fleet as shared
from .security import GROUP, VERSION, wait_for
from .security_fleet import MEMBERS, condition, custom, deployment, placement

CONTROLLER_ID = f"tmc-cel-{uuid.uuid4().hex[:6]}"
CONTROLLER_ARGS = ("--id", CONTROLLER_ID)  # read by the fleet fixture
LEASE = ("tmc-controller", "tmc-system")
CHURN = "tmc-test/churn"

fleet = shared.fleet  # the module's fixture


def numbers(n: int) -> str:
    return "[" + ",".join(str(i) for i in range(n)) + "]"


def costliest_predicate() -> tuple[str, int]:
    """The largest square nest of literal lists the engine's compile-time check accepts, and its steps."""
    best = None
    for n in range(10, 400):
        expression = f"{numbers(n)}.all(a, {numbers(n)}.all(b, a != b || string(a) != cluster.name))"
        try:
            best = (expression, cel_cost.check(expression).steps(0, 0))
        except ValueError:
            return best
    return best


def costly_spec(labels: dict) -> dict:
    """As many of the costliest predicates as one decision's budget allows over the fleet's two members
    (each is true everywhere, so every evaluation runs to its end)."""
    expression, steps = costliest_predicate()
    count = min(16, cel_cost.PLACEMENT_STEPS // (steps * len(MEMBERS)))  # 16: the CRD's maxItems
    assert count >= 1, (steps, cel_cost.PLACEMENT_STEPS)
    return {
        "workloadSelector": {"matchLabels": labels},
        "clusterSelector": {"matchExpressions": [{"key": "name", "operator": "In", "values": list(MEMBERS)}]},
        "resources": [{"group": "apps", "kind": "Deployment"}],
        "predicates": [f"{expression} && {i} >= 0" for i in range(count)],  # distinct texts: none memoised
    }


def lease(hub_api):
    return client.CoordinationV1Api(hub_api).read_namespaced_lease(*LEASE)


def work_annotation(hub_api, namespace, name):
    """The churn counter in the SyncWork of Deployment ``name`` on member1 (None: no SyncWork yet)."""
    try:
        work = custom(hub_api).get_namespaced_custom_object(
            GROUP, VERSION, "tmc-cluster-member1", "syncworks", f"deployment.{namespace}.{name}"
        )
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise
    template = work["spec"]["manifest"]["spec"]["template"]
    return int(((template.get("metadata") or {}).get("annotations") or {}).get(CHURN, "0"))


class Churn(threading.Thread):
    """team-a's workload changes again as soon as the controller placed the last change: every change
    is a new decision of the costly placement (and its predicates evaluated again)."""

    def __init__(self, hub_api, apps: client.AppsV1Api, namespace: str, name: str):
        super().__init__(daemon=True)
        self.hub_api, self.apps, self.namespace, self.name = hub_api, apps, namespace, name
        self.count, self.done, self.error = 0, threading.Event(), None

    def run(self):
        try:
            while not self.done.is_set():
                body = {"spec": {"template": {"metadata": {"annotations": {CHURN: str(self.count + 1)}}}}}
                self.apps.patch_namespaced_deployment(self.name, self.namespace, body)
                self.count += 1
                wait_for(
                    f"churn {self.count} placed",
                    lambda: (
                        self.done.is_set()
                        or (work_annotation(self.hub_api, self.namespace, self.name) or 0) >= self.count
                    ),
                    interval=0.05,
                )
        except Exception as err:  # noqa: BLE001 (reported by the test)
            self.error = err


def test_a_costly_predicate_delays_no_other_namespace_and_costs_no_leadership(fleet, hub_api_client):
    tenants = fleet["tenants"]
    alice, bob = tenants.as_("alice"), tenants.as_("bob")
    wait_for("this controller to lead", lambda: lease(hub_api_client).spec.holder_identity == CONTROLLER_ID)
    hot = {"cost": "hot"}
    client.AppsV1Api(alice).create_namespaced_deployment(
        tenants.a, {**deployment("hot"), "metadata": {"name": "hot", "labels": hot}}
    )
    custom(alice).create_namespaced_custom_object(
        GROUP, VERSION, tenants.a, "workloadplacements", placement("hot", costly_spec(hot))
    )
    wait_for(
        "team-a's costly placement to place", lambda: work_annotation(hub_api_client, tenants.a, "hot") is not None
    )
    wp = custom(hub_api_client).get_namespaced_custom_object(GROUP, VERSION, tenants.a, "workloadplacements", "hot")
    assert condition(wp, "Scheduled")["status"] == "True", condition(wp, "Scheduled")  # within the budget

    churn = Churn(hub_api_client, client.AppsV1Api(alice), tenants.a, "hot")
    churn.start()
    try:
        wait_for("team-a re-decided under churn", lambda: (work_annotation(hub_api_client, tenants.a, "hot") or 0) >= 3)
        before = lease(hub_api_client)
        # team-b's new placement, while team-a's keeps being re-decided.
        quick = {"cost": "cheap"}
        client.AppsV1Api(bob).create_namespaced_deployment(
            tenants.b, {**deployment("quick"), "metadata": {"name": "quick", "labels": quick}}
        )
        churned_at_start = churn.count
        custom(bob).create_namespaced_custom_object(
            GROUP,
            VERSION,
            tenants.b,
            "workloadplacements",
            placement(
                "quick",
                {"workloadSelector": {"matchLabels": quick}, "clusterSelector": {"matchLabels": {"name": "member1"}}},
            ),
        )
        wait_for("team-b's SyncWork", lambda: work_annotation(hub_api_client, tenants.b, "quick") is not None)
        wait_for(
            "team-a's placement re-decided after team-b's was created",
            lambda: (work_annotation(hub_api_client, tenants.a, "hot") or 0) > churned_at_start,
        )

        def renewed_lease():
            now = lease(hub_api_client)
            return now if now.spec.renew_time > before.spec.renew_time else None

        renewed = wait_for("the leader Lease renewed", renewed_lease)
    finally:
        churn.done.set()
        churn.join()
    assert churn.error is None, churn.error
    assert renewed.spec.holder_identity == before.spec.holder_identity == CONTROLLER_ID
    assert (renewed.spec.lease_transitions or 0) == (before.spec.lease_transitions or 0)
    assert fleet["controller"].running, "the controller kept running"
