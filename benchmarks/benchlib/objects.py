# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The objects a benchmark makes, and its clean-up."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.benchlib.common import API, SOURCE_NS_LABEL


def workload(index: int, replicas: int = 1) -> dict:
    name = f"app-{index:05d}"
    labels = {"app": name, "bench": "latency"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"registry.example/latency/{name}:1",
                            "resources": {"requests": {"cpu": "1m", "memory": "4Mi"}},
                        }
                    ]
                },
            },
        },
    }


def placement(namespace: str, run_id: str, label: str) -> dict:
    return {
        "apiVersion": API,
        "kind": "WorkloadPlacement",
        "metadata": {"name": "latency", "namespace": namespace},
        "spec": {
            "workloadSelector": {"matchLabels": {"bench": "latency"}},
            "resources": [{"group": "apps", "kind": "Deployment"}],
            "clusterSelector": {"matchLabels": {label: run_id}},
            "tolerations": [{"key": label, "operator": "Exists", "effect": "NoSchedule"}],
            "replicaScheduling": {"type": "Duplicated"},
        },
    }


def create_all(client, namespace: str, objects: list[dict], threads: int) -> float:
    """Create ``objects`` in ``namespace`` with ``threads`` client threads; returns the seconds it took."""
    start = time.monotonic()
    chunks = [objects[i::threads] for i in range(threads)]

    def create(chunk):
        for obj in chunk:
            client.create({**obj, "metadata": {**obj["metadata"], "namespace": namespace}})

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(create, chunk) for chunk in chunks]:
            future.result()
    return time.monotonic() - start


def free_pods(client) -> int:
    nodes = client.list("v1", "Node")
    capacity = sum(int((n.get("status") or {}).get("allocatable", {}).get("pods", "0")) for n in nodes)
    pods = client.list("v1", "Pod")
    used = sum(1 for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
    return capacity - used


def cluster_ready(registration: dict | None) -> bool:
    status = (registration or {}).get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return ready.get("status") == "True" and not status.get("taints")


# ------------------------------------------------------------------ clean-up


def remove_works(hub, cluster_names: list[str], keep_namespace: str | None = None, only: str | None = None) -> set:
    """Delete SyncWorks in the bench clusters' namespaces (finalizers first); returns their source namespaces.

    ``only``: just those of this source namespace; ``keep_namespace``: all except those.
    """
    found = []
    for name in cluster_names:
        selector = f"{SOURCE_NS_LABEL}={only}" if only else None
        try:
            items = hub.list(API, "SyncWork", namespace=f"tmc-cluster-{name}", label_selector=selector)
        except Exception as err:  # noqa: BLE001 - the namespace may not exist yet
            if getattr(err, "status", 0) == 404:
                continue
            raise
        found += [w for w in items if (w["metadata"].get("labels") or {}).get(SOURCE_NS_LABEL) != keep_namespace]

    def drop(work):
        meta = work["metadata"]
        with contextlib.suppress(Exception):
            if meta.get("finalizers"):
                hub.patch(
                    API, "SyncWork", meta["name"], {"metadata": {"finalizers": None}}, namespace=meta["namespace"]
                )
            hub.delete(API, "SyncWork", meta["name"], meta["namespace"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(drop, found))
    return {(w["metadata"].get("labels") or {}).get(SOURCE_NS_LABEL) for w in found} - {None}


def delete_namespace(client, namespace: str) -> None:
    with contextlib.suppress(Exception):
        client.delete("v1", "Namespace", namespace)


def namespace_gone(client, namespace: str) -> bool:
    return client.get("v1", "Namespace", namespace) is None
