#!/usr/bin/env python3
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one hub backup costs at N workloads x C clusters, on a running testbed's hub.

    python benchmarks/backup_cost.py --attach .testbed/dev --workloads 1000 --clusters 3 --json

Fills a namespace of the hub with N Deployments (a real one, ``benchmarks/data/cached_objects.json``,
under new names), one WorkloadPlacement selecting them, a Secret, and N x C SyncWorks (the real
SyncWork sample, one per workload and cluster, in ``tmc-cluster-<c>`` namespaces) — what a hub holds
once the controller placed them. No member is needed: the backup reads only the hub. Then takes
``--runs`` backups with ``hub_backup``'s engine (the same calls the module makes) and reports:

- ``seconds``: wall time of one backup (hub read at one resourceVersion, encryption, file write);
- ``hub_cpu_seconds``: CPU the hub's kube-apiserver and etcd spent during it (/proc utime+stime);
- ``client_cpu_seconds``: CPU of the process taking the backup;
- ``backup_bytes``: size of the file; ``unchanged_seconds`` / ``unchanged_hub_cpu_seconds``: a second
  run over the unchanged hub, which writes nothing.

Run it with the project venv's python and ``PYTHONPATH=.build/collections:.``. The objects it made
are deleted at the end (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "cached_objects.json"
NAMESPACE = "bench-backup"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fill(hub, workloads: int, clusters: int) -> None:
    from ansible_collections.tmc.multicluster.plugins.module_utils import api

    sample = json.loads(DATA.read_text())
    hub.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}, "bench")
    for c in range(clusters):
        hub.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": api.cluster_namespace(f"bench{c}")}}, "bench"
        )
    hub.apply(
        {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND_PLACEMENT,
            "metadata": {"name": "bench", "namespace": NAMESPACE},
            "spec": {"workloadSelector": {"matchLabels": {"bench": "backup"}}},
        },
        "bench",
    )
    hub.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "bench-secret", "namespace": NAMESPACE, "labels": {"bench": "backup"}},
            "stringData": {"password": "bench-only"},
        },
        "bench",
    )
    for index in range(workloads):
        name = f"app-{index:05}"
        source = copy.deepcopy(sample["deployment"])
        source["metadata"] = {"name": name, "namespace": NAMESPACE, "labels": {"bench": "backup", "app": name}}
        source.pop("status", None)
        source["spec"]["selector"] = {"matchLabels": {"app": name}}
        source["spec"]["template"]["metadata"]["labels"] = {"app": name}
        hub.apply(source, "bench")
        for c in range(clusters):
            work = copy.deepcopy(sample["syncwork"])
            cluster = f"bench{c}"
            work["metadata"] = {
                "name": f"deployment.{NAMESPACE}.{name}",
                "namespace": api.cluster_namespace(cluster),
                "labels": {api.LABEL_CLUSTER: cluster, api.LABEL_PLACEMENT: "bench"},
            }
            work.pop("status", None)
            work["spec"]["cluster"] = cluster
            work["spec"]["placement"] = "bench"
            work["spec"]["source"] = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": NAMESPACE,
                "name": name,
            }
            work["spec"]["manifest"]["metadata"]["name"] = name
            work["spec"]["manifest"]["metadata"]["namespace"] = NAMESPACE
            hub.apply(work, "bench")


def one_backup(hub, dest: str, key: str, pids: list[int]) -> dict:
    from ansible_collections.tmc.multicluster.plugins.module_utils.recovery import document, files, snapshot

    hub_before, me_before, started = sum(cpu_seconds(p) for p in pids), self_cpu(), time.monotonic()
    sections, rv = snapshot.read(hub)
    box = document.SecretBox(Path(key).read_bytes(), os.urandom(16))
    now = dt.datetime.now(dt.UTC)
    doc = document.build(sections, rv, now.isoformat(), hub.host, box, iter(lambda: os.urandom(12), None))
    newest = files.latest(dest)
    written = None
    if newest is None or files.read(newest).get("digest") != doc["digest"]:
        written = files.write(dest, files.file_name(now.strftime("%Y%m%dT%H%M%S.%fZ")), doc)
    return {
        "seconds": round(time.monotonic() - started, 3),
        "hub_cpu_seconds": round(sum(cpu_seconds(p) for p in pids) - hub_before, 3),
        "client_cpu_seconds": round(self_cpu() - me_before, 3),
        "written": written is not None,
        "backup_bytes": (written or newest).stat().st_size,
        "counts": doc["counts"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attach", required=True, help="state directory of a running testbed")
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from ansible_collections.tmc.multicluster.plugins.module_utils import kube
    from hack.testbed import HUB, Component, Testbed

    bed = Testbed(args.attach)
    hub = kube.client_for(kube.ClientConfig.from_params({"kubeconfig": str(bed.kubeconfig(HUB, direct=True))}))
    pids = [bed.pid(Component(HUB, n)) for n in ("kube-apiserver", "etcd")]
    started = time.monotonic()
    fill(hub, args.workloads, args.clusters)
    filled = time.monotonic() - started
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key"
        key.write_text(os.urandom(32).hex())
        first = one_backup(hub, str(Path(tmp) / "b"), str(key), pids)
        second = one_backup(hub, str(Path(tmp) / "b"), str(key), pids)
    result = {
        "benchmark": "backup_cost",
        "workloads": args.workloads,
        "clusters": args.clusters,
        "fill_seconds": round(filled, 1),
        **{k: first[k] for k in ("seconds", "hub_cpu_seconds", "client_cpu_seconds", "backup_bytes", "counts")},
        "unchanged_seconds": second["seconds"],
        "unchanged_hub_cpu_seconds": second["hub_cpu_seconds"],
        "unchanged_written": second["written"],
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }
    if not args.keep:
        for c in range(args.clusters):
            hub.delete("v1", "Namespace", f"tmc-cluster-bench{c}")
        hub.delete("v1", "Namespace", NAMESPACE)
    print(json.dumps(result, indent=2) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
