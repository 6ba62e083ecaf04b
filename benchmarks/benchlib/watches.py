# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmarks see: watches on members and hub, and a recorder of when each change arrived."""

from __future__ import annotations

import threading
import time

from benchmarks.benchlib.common import API, SOURCE_NS_LABEL, BenchError


class Watcher:
    """List once, then watch one kind (Deployments unless told) in one namespace (or all, with a selector).

    ``handler(event, obj, t)`` runs for every change; ``t`` is ``time.monotonic()`` when it arrived.
    """

    def __init__(
        self,
        name: str,
        client,
        kube,
        namespace: str | None,
        handler,
        stop: threading.Event,
        api_version: str = "apps/v1",
        kind: str = "Deployment",
        label_selector: str | None = None,
    ):
        self.name, self.client, self.kube = name, client, kube
        self.namespace, self.handler, self.stop = namespace, handler, stop
        self.api_version, self.kind, self.label_selector = api_version, kind, label_selector
        self.ready = threading.Event()
        self.errors = 0
        self.thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

    def start(self) -> Watcher:
        self.thread.start()
        return self

    def _run(self) -> None:
        version = ""
        while not self.stop.is_set():
            try:
                if not version:
                    items, version = self.client.list_with_version(
                        self.api_version, self.kind, self.namespace, self.label_selector
                    )
                    now = time.monotonic()
                    for obj in items:
                        self.handler("LISTED", obj, now)
                    self.ready.set()
                for event, obj in self.client.watch(
                    self.api_version, self.kind, self.namespace, version, self.label_selector, 15
                ):
                    now = time.monotonic()
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event != "BOOKMARK":
                        self.handler(event, obj, now)
                    if self.stop.is_set():
                        return
            except self.kube.KubeError as err:
                self.errors += 1
                if err.status == 410:
                    version = ""
                self.stop.wait(0.2)


def image_of(obj: dict) -> str | None:
    containers = ((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    return containers[0].get("image") if containers else None


def hub_status_complete(obj: dict, replicas: int, clusters: int) -> bool:
    """Whether a hub Deployment's aggregated status shows it placed and available on every cluster.

    ``replicas`` > 0: ``availableReplicas`` = replicas x clusters. 0: no counts to go by (a member
    Deployment of replicas 0 reports none), so ``observedGeneration`` = ``metadata.generation`` and
    the merged ``Available`` condition True (True only when it is True on every placed cluster).
    """
    status = obj.get("status") or {}
    if (status.get("availableReplicas") or 0) != replicas * clusters:
        return False
    if replicas:
        return True
    available = next((c for c in status.get("conditions") or [] if c.get("type") == "Available"), {})
    generation = (obj.get("metadata") or {}).get("generation")
    return status.get("observedGeneration") == generation and available.get("status") == "True"


class Recorder:
    """What the watches saw, with times; ``wait`` blocks until a condition over it holds."""

    def __init__(self, clusters: list[str], member_of: dict | None = None, replicas: int = 1):
        self.clusters = clusters
        self.replicas = replicas  # of every workload at creation: what a complete aggregated status shows
        self.member_of = member_of or {}  # registered cluster name -> member (SyncWork spec.cluster)
        self.work_image_seen: dict[tuple[str, str], float] = {}
        self.work_available_seen: dict[tuple[str, str], float] = {}
        self.cond = threading.Condition()
        self.first_seen: dict[str, dict[str, float]] = {c: {} for c in clusters}
        self.expect_image: dict[str, tuple[str, float]] = {}
        self.image_seen: dict[tuple[str, str], float] = {}
        self.expect_replicas: dict[str, int] = {}
        self.available_seen: dict[tuple[str, str], float] = {}
        self.hub_available: dict[str, int] = {}
        self.hub_target_seen: dict[str, float] = {}
        self.hub_all_available_at: float | None = None
        self.hub_at_full: set[str] = set()
        self.expected_names: set[str] = set()

    def on_member(self, cluster: str, event: str, obj: dict, t: float) -> None:
        if event == "DELETED":
            return
        name = obj["metadata"]["name"]
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        with self.cond:
            seen = self.first_seen[cluster]
            if name not in seen:
                seen[name] = t
                self.cond.notify_all()
            wanted = self.expect_image.get(name)
            if wanted and (cluster, name) not in self.image_seen and image_of(obj) == wanted[0]:
                self.image_seen[(cluster, name)] = t
                self.cond.notify_all()
            target = self.expect_replicas.get(name)
            if (
                target
                and (cluster, name) not in self.available_seen
                and spec.get("replicas") == target
                and status.get("availableReplicas") == target
            ):
                self.available_seen[(cluster, name)] = t
                self.cond.notify_all()

    def on_work(self, event: str, obj: dict, t: float) -> None:
        """A SyncWork of the bench namespace: when its manifest has the new image, its status the new count."""
        if event == "DELETED":
            return
        spec = obj.get("spec") or {}
        cluster = self.member_of.get(spec.get("cluster"))
        name = (spec.get("source") or {}).get("name")
        manifest = spec.get("manifest") or {}
        downstream = (obj.get("status") or {}).get("downstreamStatus") or {}
        with self.cond:
            wanted = self.expect_image.get(name)
            key = (cluster, name)
            if wanted and key not in self.work_image_seen and image_of(manifest) == wanted[0]:
                self.work_image_seen[key] = t
            target = self.expect_replicas.get(name)
            if (
                target
                and key not in self.work_available_seen
                and (manifest.get("spec") or {}).get("replicas") == target
                and downstream.get("availableReplicas") == target
            ):
                self.work_available_seen[key] = t

    def on_hub(self, event: str, obj: dict, t: float) -> None:
        if event == "DELETED":
            return
        name = obj["metadata"]["name"]
        available = (obj.get("status") or {}).get("availableReplicas") or 0
        with self.cond:
            self.hub_available[name] = available
            target = self.expect_replicas.get(name)
            if target and name not in self.hub_target_seen and available == target * len(self.clusters):
                self.hub_target_seen[name] = t
                self.cond.notify_all()
            if name in self.expected_names and hub_status_complete(obj, self.replicas, len(self.clusters)):
                self.hub_at_full.add(name)
            else:
                self.hub_at_full.discard(name)
            if self.hub_all_available_at is None and len(self.hub_at_full) == len(self.expected_names) > 0:
                self.hub_all_available_at = t
                self.cond.notify_all()

    def wait(self, what: str, check, timeout: float, required: bool = True):
        """Block until ``check()`` holds; on timeout raise (``required``) or return False."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = check()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if not required:
                        return False
                    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}; members hold {self.counts()}")
                self.cond.wait(min(remaining, 1.0))

    def counts(self) -> dict:
        return {c: len(seen) for c, seen in self.first_seen.items()}


def start_watchers(kube, clients: dict, namespace: str, recorder: Recorder, stop: threading.Event, hub=None):
    watchers = [
        Watcher(c, clients[c], kube, namespace, lambda e, o, t, c=c: recorder.on_member(c, e, o, t), stop).start()
        for c in recorder.clusters
    ]
    if hub is not None:
        watchers.append(Watcher("hub", hub, kube, namespace, recorder.on_hub, stop).start())
        watchers.append(
            Watcher(
                "hub-syncworks",
                hub,
                kube,
                None,
                recorder.on_work,
                stop,
                api_version=API,
                kind="SyncWork",
                label_selector=f"{SOURCE_NS_LABEL}={namespace}",
            ).start()
        )
    for watcher in watchers:
        if not watcher.ready.wait(30):
            raise BenchError(f"the watch on {watcher.name}/{namespace} did not start")
    return watchers
