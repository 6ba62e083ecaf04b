#!/usr/bin/env python3
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scale benchmark of the placement engine: many clusters, many placements, one process, one core.

    python benchmarks/placement_scale.py --clusters 5000 --placements 1000 --json

Synthetic ClusterRegistration objects carry realistic labels (region, zone,
tier, gpu), a location, allocatable capacity, workload counts, a few taints,
cordons and namespace selectors. Placements mix label selectors, locations,
spread constraints, Divided replicas (static and dynamic weights), tolerations,
prioritizers and -- about 10% -- CEL predicates. Everything is seeded, so a
run is repeatable.

``--spread-heavy`` (``make bench-placement-spread``) gives every placement two
spread keys (zone and location), maxSkew 2 or 3 and a numberOfClusters: the
shape where a greedy choice can fail and the exact spread search works.

Measured (seconds / milliseconds of wall time on one core):
- ``index_build_s``: parsing and indexing every cluster and compiling every placement;
- ``full_decide_s``: deciding every placement once through the index, each a full
  decide (cold: CEL contexts are built and predicates evaluated on first use);
  ``full_decide_cpu_s`` the process CPU time of the same (the machine may be shared);
- ``per_placement_p50_ms`` / ``per_placement_p95_ms``: one placement's decide in that pass;
- ``full_decide_warm_s``: every placement again, with the first decisions as ``previous``
  (the index patches where it can prove the result equal, else decides in full);
- ``incremental_p95_ms``: in the steady state (each result fed back as ``previous``), one
  cluster's label changes (tier, zone or gpu) -> ``update_cluster`` + re-deciding every
  placement it returns (``incremental_p50_ms``, mean affected count alongside);
- ``oneshot_decide_ms``: the stateless ``decide()`` (parses every cluster each call), median;
- ``explain_ms``: building the explanations of one placement over every cluster;
- ``peak_rss_mb``: resource.getrusage max RSS.

Wall times suffer when other processes share the CPU; the ``*_cpu_*`` figures
(process CPU time) and ``load_average_1m`` tell how much.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"


def _import_engine():
    link = COLLECTIONS / "ansible_collections" / "tmc" / "multicluster"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            link.symlink_to(REPO, target_is_directory=True)
    sys.path.insert(0, str(COLLECTIONS))
    from ansible_collections.tmc.multicluster.plugins.module_utils import placement

    return placement


REGIONS = ("us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-northeast")
ZONES = ("a", "b", "c")
TIERS = (("prod", 0.5), ("staging", 0.3), ("dev", 0.2))
GPUS = ("nvidia-a100", "nvidia-h100", "nvidia-l4")
NOW = 1_700_000_000.0


def _pick_tier(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for tier, share in TIERS:
        acc += share
        if x < acc:
            return tier
    return TIERS[-1][0]


def make_cluster(i: int, rng: random.Random) -> dict:
    region = rng.choice(REGIONS)
    labels = {
        "region": region,
        "zone": f"{region}-{rng.choice(ZONES)}",
        "tier": _pick_tier(rng),
        "provider": rng.choice(("aws", "gcp", "azure", "onprem")),
    }
    if rng.random() < 0.15:
        labels["gpu"] = rng.choice(GPUS)
    spec: dict = {"location": region, "syncMode": rng.choice(("Push", "Pull"))}
    status: dict = {
        "allocatable": {
            "cpu": f"{rng.choice((8, 16, 32, 48, 64, 96)) * 1000 - rng.randrange(0, 2000)}m",
            "memory": f"{rng.choice((32, 64, 128, 256, 384))}Gi",
            "pods": rng.choice((110, 250, 500)),
        },
        "workloads": rng.randrange(0, 200),
    }
    roll = rng.random()
    if roll < 0.03:
        spec["taints"] = [{"key": "maintenance", "value": "planned", "effect": "NoSchedule"}]
    elif roll < 0.04:
        status["taints"] = [
            {"key": "tmc.kcp.io/unreachable", "effect": "NoExecute", "timeAdded": "2023-11-14T22:00:00Z"}
        ]
    elif roll < 0.06:
        spec["unschedulable"] = True
    elif roll < 0.11:
        spec["namespaceSelector"] = {"matchLabels": {"tenant": rng.choice(("blue", "green"))}}
    return {
        "apiVersion": "tmc.kcp.io/v1alpha1",
        "kind": "ClusterRegistration",
        "metadata": {"name": f"cluster-{i:05d}", "labels": labels},
        "spec": spec,
        "status": status,
    }


def _regions(rng: random.Random, k: int) -> list[str]:
    return sorted(rng.sample(REGIONS, k))


def make_placement(j: int, rng: random.Random, cluster_names: list[str]) -> tuple[dict, dict]:
    kind = rng.random()
    spec: dict
    if kind < 0.30:  # regional production service
        spec = {
            "clusterSelector": {
                "matchLabels": {"tier": "prod"},
                "matchExpressions": [{"key": "region", "operator": "In", "values": _regions(rng, rng.randint(1, 2))}],
            },
            "numberOfClusters": rng.randint(2, 5),
        }
    elif kind < 0.45:  # zone-spread, multi-region
        spec = {
            "clusterSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["prod", "staging"]}]},
            "locations": _regions(rng, 3),
            "numberOfClusters": 6,
            "spreadConstraints": [
                {"topologyKey": "zone", "maxSkew": 1},
                {"topologyKey": "location", "maxSkew": 1, "minGroups": 2},
            ],
        }
    elif kind < 0.60:  # divided replicas
        rs: dict = {"type": "Divided"}
        if rng.random() < 0.5:
            rs["dynamic"] = "AvailableCapacity"
        else:
            rs["weights"] = [{"cluster": c, "weight": rng.randint(1, 5)} for c in rng.sample(cluster_names, 8)]
        spec = {
            "clusterSelector": {"matchLabels": {"tier": "prod"}},
            "locations": _regions(rng, 2),
            "numberOfClusters": 4,
            "replicaScheduling": rs,
            "prioritizers": [{"name": "Capacity", "weight": 2}, {"name": "Steady", "weight": 3}],
        }
    elif kind < 0.70:  # CEL predicates on GPU clusters
        spec = {
            "clusterSelector": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
            "predicates": [
                f"cluster.allocatable.cpu >= {float(rng.randrange(8, 68, 4))}",
                f"cluster.labels['gpu'] == '{rng.choice(GPUS)}' || cluster.allocatable.pods >= 250",
            ],
            "numberOfClusters": 3,
        }
    elif kind < 0.80:  # everywhere but dev (DaemonSet-like)
        spec = {
            "clusterSelector": {
                "matchExpressions": [
                    {"key": "tier", "operator": "NotIn", "values": ["dev"]},
                    {"key": "provider", "operator": "In", "values": [rng.choice(("aws", "gcp", "azure", "onprem"))]},
                ]
            }
        }
    else:  # tolerating maintenance, capacity-first
        spec = {
            "clusterSelector": {"matchLabels": {"tier": rng.choice(("staging", "dev"))}},
            "locations": _regions(rng, rng.randint(1, 3)),
            "tolerations": [
                {"key": "maintenance", "operator": "Exists", "effect": "NoSchedule"},
                {
                    "key": "tmc.kcp.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "numberOfClusters": rng.randint(1, 3),
            "prioritizers": [{"name": "Capacity", "weight": 1}, {"name": "Balance", "weight": 1}],
        }
    namespace = f"team-{j % 50:02d}"
    placement = {
        "apiVersion": "tmc.kcp.io/v1alpha1",
        "kind": "WorkloadPlacement",
        "metadata": {"name": f"wp-{j:05d}", "namespace": namespace, "uid": f"uid-{j}", "generation": 1},
        "spec": spec,
    }
    return placement, {"tenant": "blue" if j % 2 else "green"}


def spread_heavy(placement: dict, rng: random.Random) -> dict:
    """The same placement with two spread keys (zone, location), maxSkew 2 or 3, and a numberOfClusters:
    the shape where a greedy choice can fail and the exact search has to work (make bench-placement-spread)."""
    spec = dict(placement["spec"])
    number = rng.randint(3, 9)
    spec["numberOfClusters"] = number
    spec["spreadConstraints"] = [
        {"topologyKey": "zone", "maxSkew": rng.choice((2, 3))},
        {"topologyKey": "location", "maxSkew": 2, "minGroups": rng.randint(1, min(3, number))},
    ]
    if rng.random() < 0.3:
        spec["spreadConstraints"][0]["maxGroups"] = rng.randint(2, 6)
    return {**placement, "spec": spec}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(n_clusters: int, n_placements: int, changes: int, seed: int, spread: bool = False) -> dict:
    engine = _import_engine()
    rng = random.Random(seed)
    clusters = [make_cluster(i, rng) for i in range(n_clusters)]
    names = [c["metadata"]["name"] for c in clusters]
    placements = [make_placement(j, rng, names) for j in range(n_placements)]
    if spread:
        placements = [(spread_heavy(p, rng), labels) for p, labels in placements]

    start = time.perf_counter()
    index = engine.PlacementIndex(clusters)
    keys = [index.set_placement(p, ns_labels) for p, ns_labels in placements]
    index_build_s = time.perf_counter() - start

    per_placement, per_placement_cpu, first = [], [], {}
    start, cpu_start = time.perf_counter(), time.process_time()
    for key in keys:
        t0, c0 = time.perf_counter(), time.process_time()
        first[key] = index.decide(key, now=NOW)
        per_placement.append((time.perf_counter() - t0) * 1000)
        per_placement_cpu.append((time.process_time() - c0) * 1000)
    full_decide_s = time.perf_counter() - start
    full_decide_cpu_s = time.process_time() - cpu_start

    start = time.perf_counter()
    second = {key: index.decide(key, first[key], now=NOW) for key in keys}
    full_decide_warm_s = time.perf_counter() - start

    # The controller feeds each result back as the next `previous`; one more pass reaches that steady state.
    current = {key: index.decide(key, second[key], now=NOW) for key in keys}
    incremental, incremental_cpu, affected_counts = [], [], []
    for _ in range(changes):
        cluster = rng.choice(clusters)
        labels = dict(cluster["metadata"]["labels"])
        key = rng.choice(("tier", "zone", "gpu"))
        if key == "tier":
            labels["tier"] = rng.choice([t for t, _ in TIERS if t != labels["tier"]])
        elif key == "zone":
            labels["zone"] = f"{labels['region']}-{rng.choice(ZONES)}"
        elif "gpu" in labels:
            del labels["gpu"]
        else:
            labels["gpu"] = rng.choice(GPUS)
        cluster = {**cluster, "metadata": {**cluster["metadata"], "labels": labels}}
        t0, c0 = time.perf_counter(), time.process_time()
        affected = index.update_cluster(cluster)
        for placement_key in affected:
            current[placement_key] = index.decide(placement_key, current[placement_key], now=NOW)
        incremental.append((time.perf_counter() - t0) * 1000)
        incremental_cpu.append((time.process_time() - c0) * 1000)
        affected_counts.append(len(affected))

    oneshot = []
    for placement, ns_labels in placements[: min(5, len(placements))]:
        t0 = time.perf_counter()
        engine.decide(placement, clusters, namespace_labels=ns_labels, now=NOW)
        oneshot.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    explained = second[keys[0]].explanations if keys else {}
    explain_ms = (time.perf_counter() - t0) * 1000

    selected = [len(r.decisions) for r in second.values()]
    return {
        "variant": "spread-heavy" if spread else "mixed",
        "clusters": n_clusters,
        "placements": n_placements,
        "seed": seed,
        "index_build_s": round(index_build_s, 4),
        "full_decide_s": round(full_decide_s, 4),
        "full_decide_cpu_s": round(full_decide_cpu_s, 4),
        "full_decide_warm_s": round(full_decide_warm_s, 4),
        "per_placement_p50_ms": round(_percentile(per_placement, 0.50), 4),
        "per_placement_p95_ms": round(_percentile(per_placement, 0.95), 4),
        "per_placement_max_ms": round(max(per_placement, default=0.0), 4),
        "per_placement_cpu_p95_ms": round(_percentile(per_placement_cpu, 0.95), 4),
        "incremental_changes": changes,
        "incremental_p50_ms": round(_percentile(incremental, 0.50), 4),
        "incremental_p95_ms": round(_percentile(incremental, 0.95), 4),
        "incremental_cpu_p95_ms": round(_percentile(incremental_cpu, 0.95), 4),
        "incremental_mean_affected": round(statistics.fmean(affected_counts), 2) if affected_counts else 0.0,
        "oneshot_decide_ms": round(statistics.median(oneshot), 3) if oneshot else 0.0,
        "explain_ms": round(explain_ms, 3),
        "explained_clusters": len(explained),
        "mean_selected": round(statistics.fmean(selected), 2) if selected else 0.0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python": sys.version.split()[0],
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=5000)
    parser.add_argument("--placements", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=200, help="single-cluster label changes to time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: key: value lines)")
    parser.add_argument(
        "--spread-heavy",
        action="store_true",
        help="every placement with two spread keys (zone, location), maxSkew >= 2 and a numberOfClusters",
    )
    args = parser.parse_args(argv)
    result = run(args.clusters, args.placements, args.changes, args.seed, args.spread_heavy)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
