"""The controller and syncers as real processes on the testbed: convergence, leader hand-over, failover."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from hack.testbed import HUB

from .ansible_cli import run_module
from .daemons import Daemon

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
HEARTBEAT = {"--heartbeat-threshold": "6", "--eviction-timeout": "12"}
# Tight status pacing, so that a dozen workloads rolling out at once make the daemons defer writes.
PACING = {"--status-qps": "4", "--status-burst": "2"}
# Small passes, so that every full pass (start, resync, placement and cluster changes, failover) and
# every burst of changes goes through the controller in several pieces.
PIECES = {"--sources-per-pass": "4"}


def wait_for(what, check, timeout=120.0, interval=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def flags(mapping):
    return [item for pair in mapping.items() for item in pair]


@pytest.fixture(scope="module")
def fleet(tmc_hub, tmp_path_factory):
    """Members registered in pull mode, 2 controllers and 3 syncers running, scoped to one namespace."""
    bed = tmc_hub
    ns = f"daemons-{uuid.uuid4().hex[:6]}"
    logs = tmp_path_factory.mktemp("daemons")
    hub_kubeconfig = str(bed.kubeconfig(HUB, direct=True))
    syncers = {}
    for name in bed.members:
        dest = logs / f"{name}-syncer.kubeconfig"
        run = run_module(
            "cluster_registration",
            {
                "kubeconfig": hub_kubeconfig,
                "name": name,
                "sync_mode": "Pull",
                "syncer_kubeconfig_dest": str(dest),
                "location": bed.state["clusters"][name]["region"],
                "labels": {"env": "test"},
                "member": {"kubeconfig": str(bed.kubeconfig(name, direct=True))},
                "take_over": True,  # one registration per member: an earlier test's goes first
            },
        )
        assert not run.failed, run.output
        syncers[name] = Daemon(
            f"syncer-{name}",
            [
                "syncer",
                "--cluster-name",
                name,
                "--kubeconfig",
                str(dest),
                "--downstream-kubeconfig",
                str(bed.kubeconfig(name, direct=True)),
                "--heartbeat-interval",
                "2",
                *flags(HEARTBEAT),
                *flags(PACING),
            ],
            logs,
        )
    controllers = {
        ident: Daemon(
            ident,
            [
                "controller",
                "--kubeconfig",
                hub_kubeconfig,
                "--id",
                ident,
                "--namespaces",
                ns,
                "--leader-elect-lease-duration",
                "6",
                "--leader-elect-renew-deadline",
                "4",
                "--leader-elect-retry-period",
                "1",
                *flags(HEARTBEAT),
                *flags(PACING),
                *flags(PIECES),
            ],
            logs,
        )
        for ident in ("controller-a", "controller-b")
    }
    everyone = [*syncers.values(), *controllers.values()]
    try:
        for daemon in everyone:
            daemon.start()
        for daemon in everyone:
            daemon.wait_ready()
        yield {"bed": bed, "ns": ns, "syncers": syncers, "controllers": controllers}
    finally:
        for daemon in everyone:
            daemon.stop()


@pytest.fixture(scope="module")
def apis(fleet, hub_api_client, member_api_clients):
    ns = fleet["ns"]
    client.CoreV1Api(hub_api_client).create_namespace({"metadata": {"name": ns}})
    yield hub_api_client, member_api_clients
    client.CoreV1Api(hub_api_client).delete_namespace(ns)


def deployment(name, image, replicas=3):
    labels = {"app": name}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}},
        },
    }


def create_placement(hub, ns, name, spec):
    client.CustomObjectsApi(hub).create_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        "workloadplacements",
        {"apiVersion": f"{GROUP}/{VERSION}", "kind": "WorkloadPlacement", "metadata": {"name": name}, "spec": spec},
    )


def create_tier(apps, ns, names, image, replicas, tier):
    """Deployments labelled ``tier`` (the placements select on it)."""
    for name in names:
        body = deployment(name, image, replicas=replicas)
        body["metadata"]["labels"]["tier"] = tier
        apps.create_namespaced_deployment(ns, body)


def member_image(member_api, ns, name):
    try:
        d = client.AppsV1Api(member_api).read_namespaced_deployment(name, ns)
    except ApiException as err:
        if err.status == 404:
            return None
        raise
    return d.spec.template.spec.containers[0].image


def leader(hub_api):
    lease = client.CoordinationV1Api(hub_api).read_namespaced_lease("tmc-controller", "tmc-system")
    return lease.spec.holder_identity


def test_hub_changes_converge_without_any_module_run(fleet, apis):
    hub, members = apis
    ns = fleet["ns"]
    create_placement(hub, ns, "all", {"workloadSelector": {"matchLabels": {"tier": "web"}}})
    apps = client.AppsV1Api(hub)
    body = deployment("shop", "registry.example/shop:1")
    body["metadata"]["labels"]["tier"] = "web"
    apps.create_namespaced_deployment(ns, body)
    for name, api in members.items():
        wait_for(f"shop on {name}", lambda a=api: member_image(a, ns, "shop") == "registry.example/shop:1")
    # Status flows back: the hub Deployment reports every member's replicas.
    wait_for(
        "aggregated status on the hub",
        lambda: (apps.read_namespaced_deployment_status("shop", ns).status.available_replicas or 0) == 9,
    )

    apps.patch_namespaced_deployment(
        "shop",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.example/shop:2"}]}}}},
    )
    for name, api in members.items():
        wait_for(f"shop:2 on {name}", lambda a=api: member_image(a, ns, "shop") == "registry.example/shop:2")

    # Drift on a member is reverted by its syncer.
    client.AppsV1Api(members["member1"]).patch_namespaced_deployment("shop", ns, {"spec": {"replicas": 1}})
    wait_for(
        "drift reverted",
        lambda: client.AppsV1Api(members["member1"]).read_namespaced_deployment("shop", ns).spec.replicas == 3,
    )

    apps.delete_namespaced_deployment("shop", ns)
    for name, api in members.items():
        wait_for(f"shop gone from {name}", lambda a=api: member_image(a, ns, "shop") is None)


def test_daemons_serve_health_and_metrics(fleet):
    for daemon in [*fleet["syncers"].values(), *fleet["controllers"].values()]:
        assert daemon.get("/healthz") == (200, "ok")
        assert daemon.get("/readyz") == (200, "ok")
    status, text = fleet["syncers"]["member1"].get("/metrics")
    assert status == 200
    assert "syncer_operations_total{" in text and 'sync_target="member1"' in text
    assert "tmc_workqueue_depth" in text
    status, text = next(iter(fleet["controllers"].values())).get("/metrics")
    assert "tmc_leader" in text and "tmc_placement_decision_duration_seconds" in text


def metric_sum(daemons, name):
    """The sum of one metric's samples over the daemons' /metrics."""
    total = 0.0
    for daemon in daemons:
        _status, text = daemon.get("/metrics")
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_paced_status_writes_arrive_with_the_latest_status(fleet, apis):
    """A dozen workloads at once overrun the status rate: writes wait for their slots, and the hub
    still ends with every object's final status (none lost, none stale)."""
    hub, _members = apis
    ns = fleet["ns"]
    create_placement(hub, ns, "paced", {"workloadSelector": {"matchLabels": {"tier": "paced"}}})
    apps = client.AppsV1Api(hub)
    names = [f"paced-{i}" for i in range(12)]
    create_tier(apps, ns, names, "registry.example/paced:1", 2, "paced")
    clusters = len(fleet["syncers"])

    def all_available():
        items = apps.list_namespaced_deployment(ns, label_selector="tier=paced").items
        return len(items) == len(names) and all((d.status.available_replicas or 0) == 2 * clusters for d in items)

    wait_for("every paced Deployment's aggregated status", all_available, timeout=180)
    works = client.CustomObjectsApi(hub).list_cluster_custom_object(
        GROUP, VERSION, "syncworks", label_selector=f"tmc.kcp.io/source-namespace={ns}"
    )["items"]
    paced_works = [w for w in works if w["spec"]["source"]["name"] in names]
    assert len(paced_works) == len(names) * clusters
    for work in paced_works:
        assert work["status"]["available"] is True, work["metadata"]["name"]
        assert work["status"]["downstreamStatus"]["availableReplicas"] == 2, work["metadata"]["name"]
    syncers, controllers = list(fleet["syncers"].values()), list(fleet["controllers"].values())
    assert metric_sum(syncers, "tmc_status_writes_paced_total") > 0  # the rate was overrun: writes waited
    assert metric_sum(controllers, "tmc_status_writes_paced_total") > 0
    wait_for("no write left waiting", lambda: metric_sum(syncers + controllers, "tmc_status_writes_waiting") == 0)

    # The placement's summary (kept by the controller from its SyncWork watch) counts every object.
    def placement_status():
        return (
            client.CustomObjectsApi(hub)
            .get_namespaced_custom_object(GROUP, VERSION, ns, "workloadplacements", "paced")
            .get("status")
            or {}
        )

    full = [
        {"cluster": c, "applied": len(names), "available": len(names), "degraded": 0} for c in sorted(fleet["syncers"])
    ]
    wait_for("the placement summary", lambda: placement_status().get("summary") == full)
    available = {c["type"]: c for c in placement_status()["conditions"]}["Available"]
    assert available["status"] == "True"
    assert available["message"] == f"{len(names) * clusters}/{len(names) * clusters} workload objects available"
    for name in names:
        apps.delete_namespaced_deployment(name, ns)
    wait_for("the summary after the deletions", lambda: not placement_status().get("summary"))


class StatusChanges:
    """Counts, from a hub watch, the SyncWork status changes of some workloads: every write that
    changes a status is one event; a write of the status the hub already has is none."""

    def __init__(self, hub, ns, prefix):
        self.hub, self.ns, self.prefix = hub, ns, prefix
        self.changes = 0
        self.error = None  # why the watch ended before stop(), if it did
        self._stopped = False
        self._last: dict = {}
        self._watch = watch.Watch()
        objects = client.CustomObjectsApi(hub)
        self._version = objects.list_cluster_custom_object(GROUP, VERSION, "syncworks")["metadata"]["resourceVersion"]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self._count()
        except Exception as err:  # noqa: BLE001 - reported by the test unless the watch was stopped
            if not self._stopped:
                self.error = err

    def _count(self):
        stream = self._watch.stream(
            client.CustomObjectsApi(self.hub).list_cluster_custom_object,
            GROUP,
            VERSION,
            "syncworks",
            label_selector=f"tmc.kcp.io/source-namespace={self.ns}",
            resource_version=self._version,
            timeout_seconds=600,
        )
        for event in stream:
            work = event["object"]
            if not work["spec"]["source"]["name"].startswith(self.prefix):
                continue
            key = (work["metadata"]["namespace"], work["metadata"]["name"])
            status = work.get("status")
            if status and status != self._last.get(key):
                self.changes += 1
            self._last[key] = status

    def stop(self):
        self._stopped = True
        self._watch.stop()


def test_each_status_change_is_written_once(fleet, apis):
    """A rollout sends each syncer a burst of member updates, some before the hub's watch has shown
    the syncer its own last write: still, every SyncWork status write the syncers send changes the
    status (none writes again what the hub already has)."""
    hub, _members = apis
    ns = fleet["ns"]
    syncers = list(fleet["syncers"].values())
    create_placement(hub, ns, "once", {"workloadSelector": {"matchLabels": {"tier": "once"}}})
    seen = StatusChanges(hub, ns, "once-")
    writes_before = metric_sum(syncers, "tmc_status_writes_total")
    apps = client.AppsV1Api(hub)
    names = [f"once-{i}" for i in range(6)]
    create_tier(apps, ns, names, "registry.example/once:1", 3, "once")
    clusters = len(syncers)

    def all_available():
        items = apps.list_namespaced_deployment(ns, label_selector="tier=once").items
        return len(items) == len(names) and all((d.status.available_replicas or 0) == 3 * clusters for d in items)

    wait_for("every rollout's aggregated status", all_available, timeout=180)
    wait_for("no status write left waiting", lambda: metric_sum(syncers, "tmc_status_writes_waiting") == 0)
    time.sleep(2.0)  # the last writes' watch events
    writes = metric_sum(syncers, "tmc_status_writes_total") - writes_before
    seen.stop()
    assert seen.error is None, f"the hub watch ended early: {seen.error!r}"
    assert writes >= len(names) * clusters  # every SyncWork got its status
    assert writes == seen.changes
    for name in names:
        apps.delete_namespaced_deployment(name, ns)


def test_sigkill_of_the_leader_hands_over_and_loses_no_update(fleet, apis):
    hub, members = apis
    ns = fleet["ns"]
    apps = client.AppsV1Api(hub)
    body = deployment("api", "registry.example/api:1")
    body["metadata"]["labels"]["tier"] = "web"
    apps.create_namespaced_deployment(ns, body)
    for api in members.values():
        wait_for("api:1", lambda a=api: member_image(a, ns, "api") == "registry.example/api:1")
    first = wait_for("a leader", lambda: leader(hub))
    fleet["controllers"][first].kill(signal.SIGKILL)
    killed_at = time.monotonic()
    # An update made while nobody leads must not be lost.
    apps.patch_namespaced_deployment(
        "api",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.example/api:2"}]}}}},
    )
    second = wait_for("a new leader", lambda: (leader(hub) not in (None, "", first)) and leader(hub), timeout=30)
    assert second != first
    assert time.monotonic() - killed_at < 6 + 10  # lease duration, plus retry periods and slack for a loaded machine
    for api in members.values():
        wait_for("api:2 after hand-over", lambda a=api: member_image(a, ns, "api") == "registry.example/api:2")
    fleet["controllers"][first].start().wait_ready()  # back as a standby


def test_changes_made_while_a_full_pass_runs_are_not_written_over(fleet, apis):
    """A full pass of the namespace (here: the placement's spec changed) plans from the sources as
    they were when it began; scales made meanwhile go through passes over the changed sources.
    Whatever the interleaving, every SyncWork ends with the hub's latest spec (a full pass must not
    write back an older one), and keeps it."""
    hub, _members = apis
    ns = fleet["ns"]
    custom = client.CustomObjectsApi(hub)
    create_placement(hub, ns, "race", {"workloadSelector": {"matchLabels": {"tier": "race"}}})
    apps = client.AppsV1Api(hub)
    names = [f"race-{i:02d}" for i in range(60)]
    create_tier(apps, ns, names, "registry.example/race:1", 1, "race")
    clusters = len(fleet["syncers"])

    def replicas_by_work():
        items = custom.list_cluster_custom_object(
            GROUP, VERSION, "syncworks", label_selector=f"tmc.kcp.io/source-namespace={ns}"
        )["items"]
        return {
            (w["spec"]["cluster"], w["spec"]["source"]["name"]): w["spec"]["manifest"]["spec"]["replicas"]
            for w in items
            if w["spec"]["source"]["name"] in names and not w["metadata"].get("deletionTimestamp")
        }

    wait_for("the race SyncWorks", lambda: len(replicas_by_work()) == len(names) * clusters)
    for round_ in range(1, 5):
        # A spec change of the placement: a full pass of the namespace, while every workload is scaled.
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            ns,
            "workloadplacements",
            "race",
            {"spec": {"tolerations": [{"key": f"tmc.test/round-{round_}", "operator": "Exists"}]}},
        )
        for name in names:
            apps.patch_namespaced_deployment(name, ns, {"spec": {"replicas": 1 + round_ % 2}})
    final = 1 + 4 % 2
    wait_for("every SyncWork at the final replicas", lambda: set(replicas_by_work().values()) == {final})
    time.sleep(3)  # and no late pass writes an older spec back
    assert set(replicas_by_work().values()) == {final}
    for name in names:
        apps.delete_namespaced_deployment(name, ns)
    custom.delete_namespaced_custom_object(GROUP, VERSION, ns, "workloadplacements", "race")


def test_stopped_syncer_fails_over_and_leaves_no_duplicates(fleet, apis):
    hub, members = apis
    ns = fleet["ns"]
    custom = client.CustomObjectsApi(hub)
    create_placement(
        hub,
        ns,
        "two",
        {
            "workloadSelector": {"matchLabels": {"tier": "batch"}},
            "numberOfClusters": 2,
            "prioritizers": [{"name": "Steady", "weight": 10}],
        },
    )
    body = deployment("worker", "registry.example/worker:1", replicas=2)
    body["metadata"]["labels"]["tier"] = "batch"
    client.AppsV1Api(hub).create_namespaced_deployment(ns, body)

    def placed():
        found = {n for n, api in members.items() if member_image(api, ns, "worker")}
        return found if len(found) == 2 else None

    before = wait_for("worker on two clusters", placed)
    victim = sorted(before)[0]
    spare = (set(members) - before).pop()
    fleet["syncers"][victim].stop()

    def cluster_ready(name):
        reg = custom.get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", name)
        return next((c["status"] for c in reg["status"].get("conditions", []) if c["type"] == "Ready"), None)

    wait_for(f"{victim} not Ready", lambda: cluster_ready(victim) == "Unknown", timeout=120)
    # Failover (TMCFailover, on by default): the spare cluster gets a copy once the victim is NoExecute.
    wait_for(f"worker on {spare}", lambda: member_image(members[spare], ns, "worker"), timeout=120)
    # The victim's copy stays while its syncer is away (nothing acts on lost contact) ...
    assert member_image(members[victim], ns, "worker")
    fleet["syncers"][victim].start().wait_ready()
    wait_for(f"{victim} Ready again", lambda: cluster_ready(victim) == "True", timeout=120)

    # ... and is removed once it returns: the workload runs on exactly two clusters, Steady keeps them.
    def settled():
        found = {n for n, api in members.items() if member_image(api, ns, "worker")}
        return found if len(found) == 2 and victim not in found else None

    after = wait_for("no stale copy", settled, timeout=180)
    assert spare in after

    # The victim's SyncWork goes right after its object (the syncer releases its finalizer then).
    def work_clusters():
        works = custom.list_cluster_custom_object(
            GROUP,
            VERSION,
            "syncworks",
            label_selector=f"tmc.kcp.io/source-namespace={ns},tmc.kcp.io/source-name=worker",
        )["items"]
        found = sorted(w["spec"]["cluster"] for w in works if w["spec"]["manifest"]["kind"] == "Deployment")
        return found if found == sorted(after) else None

    wait_for("one SyncWork per copy", work_clusters, timeout=60)
    assert settled() == after  # and nothing came back meanwhile


def test_member_api_server_loss_fails_over_and_recovers(fleet, apis):
    from hack.testbed import Component

    hub, members = apis
    bed, ns = fleet["bed"], fleet["ns"]
    custom = client.CustomObjectsApi(hub)
    body = deployment("reporter", "registry.example/reporter:1", replicas=1)
    body["metadata"]["labels"]["tier"] = "batch"
    client.AppsV1Api(hub).create_namespaced_deployment(ns, body)

    def placed():
        found = {n for n, api in members.items() if member_image(api, ns, "reporter")}
        return found if len(found) == 2 else None

    before = wait_for("reporter on two clusters", placed)
    victim = sorted(before)[-1]
    apiserver = Component(victim, "kube-apiserver")
    bed.stop(apiserver)
    try:

        def ready(name):
            reg = custom.get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", name)
            return next((c["status"] for c in reg["status"].get("conditions", []) if c["type"] == "Ready"), None)

        wait_for(f"{victim} not Ready (its syncer cannot reach it)", lambda: ready(victim) == "Unknown", timeout=120)

        def failed_over():
            works = custom.list_cluster_custom_object(
                GROUP,
                VERSION,
                "syncworks",
                label_selector=f"tmc.kcp.io/source-namespace={ns},tmc.kcp.io/source-name=reporter",
            )["items"]
            live = {
                w["spec"]["cluster"]
                for w in works
                if w["spec"]["manifest"]["kind"] == "Deployment" and not w["metadata"].get("deletionTimestamp")
            }
            return live if victim not in live and len(live) == 2 else None

        moved = wait_for("a replacement SyncWork off the lost member", failed_over, timeout=120)
        for name in moved:
            wait_for(f"reporter on {name}", lambda n=name: member_image(members[n], ns, "reporter"), timeout=120)
    finally:
        bed.start(apiserver)
    wait_for(f"{victim} Ready again", lambda: ready(victim) == "True", timeout=120)

    def settled():
        found = {n for n, api in members.items() if member_image(api, ns, "reporter")}
        return found if len(found) == 2 and victim not in found else None

    assert wait_for("the stale copy removed from the returned member", settled, timeout=180) == moved
