#!/usr/bin/env python3
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller's watch caches cost at N workloads x C clusters, in one process, no cluster.

    python benchmarks/cache_memory.py --workloads 10000 --clusters 3 --json

The controller keeps every hub workload and every SyncWork it watches (daemons/store.py), with
the indexes it reads them by and the placement summary counters (status.SummaryCounts). This
fills exactly those structures the way the controller's watches do (``reflector._slim``, the
SyncWork transform ``plan.compact_work``, the controller's indexers) with N copies of a real hub
Deployment and N x C copies of a real SyncWork (``benchmarks/data/cached_objects.json``, captured
from the testbed; each copy gets its own names), and reports:

- ``cache_mb``: resident memory the filled structures added (RSS after minus before, after a
  garbage collection); ``payload_mb``: of that, the kept (compressed) objects themselves, the rest
  being keys, indexes and counters; ``per_syncwork_bytes`` / ``per_source_bytes``: kept size of one;
- ``decode_us``: reading one cached SyncWork back (decompress + JSON), median of 2,000.

Run it with the project venv's python and ``PYTHONPATH=.build/collections`` (``make
bench-cache`` does). The daemons' own resident memory at scale is ``make bench-memory``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
import uuid
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "cached_objects.json"


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 1e6


def copies(workloads: int, clusters: int):
    """(source, [its SyncWorks]) for each workload: the captured objects under new names, with the
    fields that differ between real objects made different too (uids, resourceVersions, content
    hashes), so that the compression is measured on objects as unlike as real ones."""
    sample = json.loads(DATA.read_text())
    deployment, syncwork = json.dumps(sample["deployment"]), json.dumps(sample["syncwork"])
    name = sample["deployment"]["metadata"]["name"]
    source_uid = sample["deployment"]["metadata"]["uid"]
    work_uid = sample["syncwork"]["metadata"]["uid"]
    manifest_hash = sample["syncwork"]["metadata"]["annotations"]["tmc.kcp.io/manifest-hash"]
    cluster = sample["syncwork"]["spec"]["cluster"]
    rng = random.Random(6)
    version = 1000
    for index in range(workloads):
        new, uid = f"app-{index:05}", str(uuid.UUID(int=rng.getrandbits(128)))
        source = json.loads(deployment.replace(name, new).replace(source_uid, uid))
        version += 1
        source["metadata"]["resourceVersion"] = str(version)
        works = []
        for number in range(1, clusters + 1):
            text = syncwork.replace(name, new).replace(source_uid, uid).replace(cluster, f"{cluster[:-1]}{number}")
            text = text.replace(work_uid, str(uuid.UUID(int=rng.getrandbits(128))))
            text = text.replace(manifest_hash, f"{rng.getrandbits(256):064x}")
            work = json.loads(text)
            version += 1
            work["metadata"]["resourceVersion"] = str(version)
            works.append(work)
        yield source, works


def fill_store(workloads: int, clusters: int) -> dict:
    from ansible_collections.tmc.multicluster.plugins.module_utils import api, status
    from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import controller, reflector, store
    from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as plan_steps

    def namespace(obj):
        return [obj["metadata"].get("namespace") or ""]

    sources = store.ObjectStore({"namespace": namespace})
    syncworks = store.ObjectStore({"namespace": namespace, **controller.INDEXERS[(api.API_VERSION, api.KIND_SYNCWORK)]})
    summaries = status.SummaryCounts()
    gc.collect()
    before = rss_mb()
    for source, works in copies(workloads, clusters):
        kept = reflector._slim(source)
        sources.put(reflector.object_key(kept), kept)
        for work in works:
            kept = plan_steps.compact_work(reflector._slim(work))
            key = reflector.object_key(kept)
            syncworks.put(key, kept)
            labels = kept["metadata"]["labels"]
            summaries.update(key, (labels.get("tmc.kcp.io/source-namespace"), kept["spec"].get("placement")), kept)
    gc.collect()
    cache = rss_mb() - before
    raws_sw = list(syncworks._objects.values())
    raws_src = list(sources._objects.values())
    keys = list(syncworks._objects)[:2000]
    timings = []
    for key in keys:
        started = time.perf_counter()
        syncworks.get(key)
        timings.append(time.perf_counter() - started)
    return {
        "cache_mb": round(cache, 1),
        "payload_mb": round((sum(map(len, raws_sw)) + sum(map(len, raws_src))) / 1e6, 1),
        "per_syncwork_bytes": round(statistics.mean(map(len, raws_sw))),
        "per_source_bytes": round(statistics.mean(map(len, raws_src))),
        "decode_us": round(statistics.median(timings) * 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=10000)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = {"workloads": args.workloads, "clusters": args.clusters, **fill_store(args.workloads, args.clusters)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
