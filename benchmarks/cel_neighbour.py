#!/usr/bin/env python3
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long another namespace waits while a tenant's costliest placement is re-decided (issue 17, item 4).

    python benchmarks/cel_neighbour.py --attach .testbed/mine --json

The integration test tests/integration/test_security_cel.py asserts what must hold (the other
namespace gets its SyncWorks, the leader keeps its Lease); this program measures how long it waits.

Set-up (not timed): a running testbed (``--attach``, left running). Its first two members are
registered on its hub in pull mode under their own names, as the integration tests register them
(labels ``env=test`` and ``name=<member>``; a registration that exists is left as it is), with one
syncer each, and one controller (leader-elected, as by default; its Lease in the bench's first
namespace, so that no other controller of that hub competes) for the bench's two namespaces. At the
end the bench's namespaces go, and their SyncWorks with them, before the daemons stop.

Measured (``time.monotonic()`` in this process, SyncWorks polled every 20 ms):

- ``quiet_wait_s``: team-b's new placement (with its Deployment) until its SyncWork is on the hub,
  ``--samples`` times, while nothing else happens (median and max);
- ``loaded_wait_s``: the same while team-a's placement carries the costliest predicates the CEL
  budget allows (as many as one decision's budget takes over the two clusters) and is re-decided
  without pause (its Deployment changes again as soon as the last change is in its SyncWork; each
  sample starts after one more of its decisions);
- ``extra_wait_s``: the medians' difference (what the costly neighbour costs team-b);
- ``costly_decisions``, ``costly_decision_s``: team-a's decisions during the loaded phase and the
  mean time from a change to its SyncWork;
- ``lease``: the leader Lease's holder before and after, its transitions, how often it was seen renewed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.benchlib.common import GROUP, PROGRAM, VERSION, import_engine, log, run_playbook  # noqa: E402
from benchmarks.benchlib.daemons import Daemon  # noqa: E402
from benchmarks.benchlib.testbeds import install_hub  # noqa: E402

PROGRAM[0] = "bench-cel-neighbour"
CHURN = "tmc.bench/churn"
POLL = 0.02


def official_clients(kubeconfig: Path):
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(kubeconfig))
    return client.CustomObjectsApi(api), client.AppsV1Api(api), client.CoreV1Api(api), client.CoordinationV1Api(api)


def costly_predicates(cel_cost, clusters: int) -> list[str]:
    """The costliest predicate the engine accepts, as many times as one decision's budget allows."""
    best = None
    for n in range(10, 400):
        items = "[" + ",".join(map(str, range(n))) + "]"
        expression = f"{items}.all(a, {items}.all(b, a != b || string(a) != cluster.name))"
        try:
            best = (expression, cel_cost.check(expression).steps(0, 0))
        except ValueError:
            break
    expression, steps = best
    count = min(16, cel_cost.PLACEMENT_STEPS // (steps * clusters))
    return [f"{expression} && {i} >= 0" for i in range(count)]


class Bench:
    def __init__(self, bed, hub_kubeconfig: Path, clusters: list[str]):
        self.custom, self.apps, self.core, self.coordination = official_clients(hub_kubeconfig)
        self.clusters = clusters
        self.run_id = uuid.uuid4().hex[:6]
        self.a, self.b = f"cel-a-{self.run_id}", f"cel-b-{self.run_id}"

    def spec(self, labels: dict, predicates=()) -> dict:
        return {
            "workloadSelector": {"matchLabels": labels},
            "clusterSelector": {"matchExpressions": [{"key": "name", "operator": "In", "values": self.clusters}]},
            "resources": [{"group": "apps", "kind": "Deployment"}],
            **({"predicates": list(predicates)} if predicates else {}),
        }

    def place(self, namespace: str, name: str, predicates=()) -> None:
        labels = {"app": name}
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
            },
        }
        self.apps.create_namespaced_deployment(namespace, body)
        wp = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "WorkloadPlacement", "metadata": {"name": name}}
        self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "workloadplacements", {**wp, "spec": self.spec(labels, predicates)}
        )

    def churn_of(self, namespace: str, name: str) -> int | None:
        """The churn counter of the Deployment's SyncWork on the first cluster (None: no SyncWork)."""
        from kubernetes.client.rest import ApiException

        try:
            work = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, f"tmc-cluster-{self.clusters[0]}", "syncworks", f"deployment.{namespace}.{name}"
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        annotations = (work["spec"]["manifest"]["spec"]["template"].get("metadata") or {}).get("annotations") or {}
        return int(annotations.get(CHURN, "0"))

    def works(self) -> list:
        selector = f"tmc.kcp.io/source-namespace in ({self.a},{self.b})"
        return self.custom.list_cluster_custom_object(GROUP, VERSION, "syncworks", label_selector=selector)["items"]

    def wait(self, what: str, check, timeout: float = 120.0) -> float:
        started = time.monotonic()
        while not check():
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(POLL)
        return time.monotonic() - started

    def neighbour_waits(self, tag: str, samples: int) -> list[float]:
        waits = []
        for i in range(samples):
            name = f"{tag}-{i}"
            started = time.monotonic()
            self.place(self.b, name)
            self.wait(f"team-b's {name}", lambda n=name: self.churn_of(self.b, n) is not None)
            waits.append(time.monotonic() - started)
        return waits


class Churn(threading.Thread):
    """team-a's Deployment changes again as soon as its last change is in its SyncWork."""

    def __init__(self, bench: Bench, name: str):
        super().__init__(daemon=True)
        self.bench, self.name, self.count, self.times, self.done = bench, name, 0, [], threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            body = {"spec": {"template": {"metadata": {"annotations": {CHURN: str(self.count + 1)}}}}}
            started = time.monotonic()
            self.bench.apps.patch_namespaced_deployment(self.name, self.bench.a, body)
            self.count += 1
            self.bench.wait(
                "team-a's change", lambda: (self.bench.churn_of(self.bench.a, self.name) or 0) >= self.count
            )
            self.times.append(time.monotonic() - started)


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3), "samples": len(values)}


def lease_of(bench: Bench):
    return bench.coordination.read_namespaced_lease("tmc-controller", bench.a).spec


def measure(bench: Bench, cel_cost, samples: int) -> dict:
    quiet = bench.neighbour_waits("quiet", samples)
    predicates = costly_predicates(cel_cost, len(bench.clusters))
    bench.place(bench.a, "hot", predicates)
    bench.wait("team-a's costly placement", lambda: bench.churn_of(bench.a, "hot") is not None)
    before = lease_of(bench)
    renewals, last = 0, before.renew_time
    churn = Churn(bench, "hot")
    churn.start()
    try:
        loaded = []
        for i in range(samples):
            seen = churn.count  # each sample starts while a costly decision runs, after the one before it
            bench.wait("a costly decision", lambda seen=seen: churn.count > seen or churn.done.is_set())
            loaded += bench.neighbour_waits(f"loaded{i}", 1)
            now = lease_of(bench)
            renewals += now.renew_time != last
            last = now.renew_time
    finally:
        churn.done.set()
        churn.join()
    after = lease_of(bench)
    return {
        "costly_predicates": len(predicates),
        "quiet_wait_s": summary(quiet),
        "loaded_wait_s": summary(loaded),
        "extra_wait_s": round(statistics.median(loaded) - statistics.median(quiet), 3),
        "costly_decisions": churn.count,
        "costly_decision_s": round(statistics.mean(churn.times), 3) if churn.times else None,
        "lease": {
            "holder_before": before.holder_identity,
            "holder_after": after.holder_identity,
            "transitions": (after.lease_transitions or 0) - (before.lease_transitions or 0),
            "renewals_seen": renewals,
        },
    }


def register(bed, hub_kubeconfig: Path, members: list[str], work: Path) -> dict:
    """Pull-mode registrations under the members' own names; the syncers' hub kubeconfigs."""
    dests = {m: work / f"{m}-syncer.kubeconfig" for m in members}
    tasks = ""
    for m in members:
        args = {
            "kubeconfig": str(hub_kubeconfig),
            "name": m,
            "sync_mode": "Pull",
            "syncer_kubeconfig_dest": str(dests[m]),
            "location": bed.state["clusters"][m]["region"],
            "labels": {"env": "test", "name": m},
            "member": {"kubeconfig": str(bed.kubeconfig(m, direct=True))},
        }
        tasks += f"    - name: Register {m}\n      tmc.multicluster.cluster_registration: {json.dumps(args)}\n"
    playbook = work / "register.yml"
    playbook.write_text(f"- name: Register\n  hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}")
    run_playbook(playbook)
    return dests


def run(args: argparse.Namespace) -> dict:
    kube = import_engine()
    from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel_cost
    from hack.testbed import HUB, Testbed

    bed = Testbed(args.attach)
    if not bed.status()["running"]:
        raise RuntimeError(f"the testbed in {bed.dir} is not (fully) running")
    work = Path(tempfile.mkdtemp(prefix="tmc-bench-cel-"))
    hub_kubeconfig = bed.kubeconfig(HUB, direct=True)
    hub = kube.client_for(kube.ClientConfig(kubeconfig=str(hub_kubeconfig)))
    install_hub(bed, hub, work, attached=True)
    members = bed.members[:2]
    bench = Bench(bed, hub_kubeconfig, members)
    daemons = []
    try:
        configs = register(bed, hub_kubeconfig, members, work)
        for ns in (bench.a, bench.b):
            bench.core.create_namespace({"metadata": {"name": ns}})
        for m in members:
            argv = ["syncer", "--cluster-name", m, "--kubeconfig", str(configs[m])]
            argv += ["--downstream-kubeconfig", str(bed.kubeconfig(m, direct=True)), "--heartbeat-interval", "2"]
            daemons.append(Daemon(f"syncer-{m}", argv, work))
        controller = ["controller", "--kubeconfig", str(hub_kubeconfig), "--namespaces", f"{bench.a},{bench.b}"]
        controller += ["--leader-elect-namespace", bench.a, "--id", f"bench-{bench.run_id}"]
        daemons.append(Daemon("controller", controller, work))
        for daemon in daemons:
            daemon.start()
        for daemon in daemons:
            daemon.wait_ready()
        log("measuring team-b's waits, quiet then beside team-a's costly placement")
        result = measure(bench, cel_cost, args.samples)
        for daemon in daemons:
            daemon.check_alive()
        return {"benchmark": "cel_neighbour", "clusters": len(members), **result}
    finally:
        for ns in (bench.a, bench.b):
            with contextlib.suppress(Exception):
                bench.core.delete_namespace(ns)
        with contextlib.suppress(Exception):
            bench.wait("the bench's SyncWorks gone", lambda: not bench.works(), timeout=120)
        for daemon in daemons:
            daemon.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attach", metavar="STATE_DIR", required=True, help="a running testbed (left running)")
    parser.add_argument("--samples", type=int, default=10, help="team-b placements per phase")
    parser.add_argument(
        "--hub-state", default=str(Path(__file__).resolve().parent.parent / ".testbed" / "bench-cel-hub")
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
