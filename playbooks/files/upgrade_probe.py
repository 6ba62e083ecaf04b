# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Observe TMC's workloads while playbooks/upgrade.yml upgrades (or rolls back) the daemons.

Reads real API servers only (the hub and the members, with the kubeconfigs in the config file) and never
writes to them. Three commands, each printing one JSON object on stdout:

``snapshot``  the SyncWorks of the scope's namespaces on the hub, the downstream objects they stand for on the
              members (uid, image, replicas, ConfigMap data — never Secret data), and the hub's workloads with
              their aggregated status.
``wait``      repeat ``snapshot`` until the scope has converged: every SyncWork's object exists on its member
              (and nothing else of the scope does), every hub Deployment reports all its replicas available, and,
              when asked, every downstream Deployment runs ``--expect-image`` and every ConfigMap holds
              ``--expect-data``. Exit code 1 and what is missing after ``--timeout`` seconds.
``watch``     sample every ``--interval`` seconds until ``--stop-file`` appears: each downstream Deployment's
              availability (condition Available), each hub Deployment's aggregated availability, each
              daemon's /readyz, the controller's leader Lease, and every downstream object's uid. Writes the
              gaps (longest run of unavailable samples per object, first unavailable sample to the next available
              one), uid changes and objects that went missing to ``--out``.

The config file (JSON): ``hub_kubeconfig``, ``clusters`` [{name, kubeconfig}], ``namespaces`` [...],
optional ``daemons`` [{name, role, url}] and ``leader_lease`` {namespace, name}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
LABEL_MANAGED, LABEL_CLUSTER = "tmc.kcp.io/managed", "tmc.kcp.io/cluster"
KINDS = ("Deployment", "Service", "ConfigMap", "Secret")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # noqa: UP017


def api_client(kubeconfig: str) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.retries = 0
    return client.ApiClient(configuration)


class Scope:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.namespaces = set(cfg["namespaces"])
        self.hub = api_client(cfg["hub_kubeconfig"])
        self.members = {c["name"]: api_client(c["kubeconfig"]) for c in cfg["clusters"]}

    # -- hub

    def syncworks(self) -> tuple[dict, int]:
        """key cluster/Kind/namespace/name -> SyncWork summary; and how many keys had more than one SyncWork."""
        custom = client.CustomObjectsApi(self.hub)
        out: dict[str, dict] = {}
        duplicated = 0
        for cluster in self.members:
            try:
                items = custom.list_namespaced_custom_object(GROUP, VERSION, f"tmc-cluster-{cluster}", "syncworks")
            except ApiException as err:
                if err.status == 404:
                    continue
                raise
            for work in items.get("items", []):
                spec = work.get("spec") or {}
                manifest = spec.get("manifest") or {}
                meta = manifest.get("metadata") or {}
                namespace = meta.get("namespace") or (spec.get("source") or {}).get("namespace")
                if namespace not in self.namespaces:
                    continue
                key = f"{spec.get('cluster', cluster)}/{manifest.get('kind')}/{namespace}/{meta.get('name')}"
                if key in out:
                    duplicated += 1
                status = work.get("status") or {}
                out[key] = {
                    "syncwork": f"{work['metadata']['namespace']}/{work['metadata']['name']}",
                    "deleting": bool(work["metadata"].get("deletionTimestamp")),
                    "applied": bool(status.get("applied")),
                    "available": bool(status.get("available")),
                }
        return out, duplicated

    def hub_deployments(self) -> dict:
        apps = client.AppsV1Api(self.hub)
        out = {}
        for namespace in sorted(self.namespaces):
            for dep in apps.list_namespaced_deployment(namespace).items:
                wanted = dep.spec.replicas if dep.spec.replicas is not None else 1
                available = (dep.status.available_replicas or 0) if dep.status else 0
                out[f"Deployment/{namespace}/{dep.metadata.name}"] = {
                    "replicas": wanted,
                    "availableReplicas": available,
                    "available": available >= wanted,
                    "image": dep.spec.template.spec.containers[0].image,
                }
        return out

    def leader(self) -> str | None:
        lease = self.cfg.get("leader_lease")
        if not lease:
            return None
        try:
            obj = client.CoordinationV1Api(self.hub).read_namespaced_lease(lease["name"], lease["namespace"])
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return obj.spec.holder_identity or None

    # -- members

    def downstream(self, cluster: str) -> dict:
        """key -> summary of every object TMC manages for this cluster in the scope's namespaces."""
        api = self.members[cluster]
        selector = f"{LABEL_MANAGED}=true,{LABEL_CLUSTER}={cluster}"
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        listed = {
            "Deployment": apps.list_deployment_for_all_namespaces(label_selector=selector).items,
            "Service": core.list_service_for_all_namespaces(label_selector=selector).items,
            "ConfigMap": core.list_config_map_for_all_namespaces(label_selector=selector).items,
            "Secret": core.list_secret_for_all_namespaces(label_selector=selector).items,
        }
        out = {}
        for kind, items in listed.items():
            for obj in items:
                meta = obj.metadata
                if meta.namespace not in self.namespaces:
                    continue
                entry = {"uid": meta.uid, "created": meta.creation_timestamp.isoformat()}
                if kind == "Deployment":
                    conditions = {c.type: c.status for c in (obj.status.conditions or [])} if obj.status else {}
                    entry.update(
                        image=obj.spec.template.spec.containers[0].image,
                        replicas=obj.spec.replicas,
                        availableReplicas=(obj.status.available_replicas or 0) if obj.status else 0,
                        available=conditions.get("Available") == "True",
                        generation=meta.generation,
                    )
                elif kind == "ConfigMap":
                    entry["data"] = dict(obj.data or {})
                out[f"{cluster}/{kind}/{meta.namespace}/{meta.name}"] = entry
        return out

    def snapshot(self) -> dict:
        works, duplicated = self.syncworks()
        downstream: dict[str, dict] = {}
        for cluster in self.members:
            downstream.update(self.downstream(cluster))
        hub = self.hub_deployments()
        expected = {k for k, w in works.items() if not w["deleting"]}
        return {
            "at": now_iso(),
            "syncworks": works,
            "syncworks_duplicated": duplicated,
            "downstream": downstream,
            "hub": hub,
            "missing": sorted(expected - set(downstream)),
            "unexpected": sorted(set(downstream) - set(works)),
        }


def converged(snap: dict, expect_image: str | None, expect_data: dict) -> list[str]:
    """What keeps the scope from having converged (empty when it has)."""
    problems = []
    if not snap["syncworks"]:
        problems.append("no SyncWork yet")
    problems += [f"missing on its member: {k}" for k in snap["missing"]]
    problems += [f"not placed but present: {k}" for k in snap["unexpected"]]
    if snap["syncworks_duplicated"]:
        problems.append(f"{snap['syncworks_duplicated']} duplicated SyncWorks")
    problems += [f"SyncWork being deleted: {k}" for k, w in snap["syncworks"].items() if w["deleting"]]
    for key, dep in snap["hub"].items():
        if not dep["available"]:
            problems.append(f"hub {key}: {dep['availableReplicas']}/{dep['replicas']} available")
        if expect_image and dep["image"] != expect_image:
            problems.append(f"hub {key}: image {dep['image']}")
    for key, obj in snap["downstream"].items():
        kind = key.split("/")[1]
        if kind == "Deployment":
            if not obj["available"]:
                problems.append(f"{key}: not available")
            if expect_image and obj["image"] != expect_image:
                problems.append(f"{key}: image {obj['image']}")
        elif kind == "ConfigMap" and any(obj["data"].get(k) != v for k, v in expect_data.items()):
            problems.append(f"{key}: data {obj['data']}")
    return problems


def cmd_snapshot(scope: Scope, _args) -> int:
    print(json.dumps(scope.snapshot(), sort_keys=True))
    return 0


def cmd_wait(scope: Scope, args) -> int:
    expect_data = dict(item.split("=", 1) for item in args.expect_data)
    started = time.monotonic()
    deadline = started + args.timeout
    problems: list[str] = ["not checked"]
    snap: dict = {}
    while True:
        try:
            snap = scope.snapshot()
            problems = converged(snap, args.expect_image, expect_data)
        except (ApiException, OSError) as err:  # an API server briefly away: try again
            problems = [f"cannot read: {type(err).__name__}: {str(err)[:200]}"]
        if not problems or time.monotonic() >= deadline:
            break
        time.sleep(args.interval)
    snap["converged"] = not problems
    snap["problems"] = problems[:50]
    snap["waited_s"] = round(time.monotonic() - started, 2)
    print(json.dumps(snap, sort_keys=True))
    return 0 if not problems else 1


class Gaps:
    """Runs of 'down' samples per key: a gap lasts from its first down sample to the next up one."""

    def __init__(self):
        self.down_since: dict[str, float] = {}
        self.closed: list[dict] = []

    def observe(self, key: str, up: bool, t: float, t0: float) -> None:
        if up:
            since = self.down_since.pop(key, None)
            if since is not None:
                self.closed.append({"key": key, "from_s": round(since - t0, 2), "seconds": round(t - since, 2)})
        elif key not in self.down_since:
            self.down_since[key] = t

    def finish(self, t: float, t0: float) -> list[dict]:
        still = [
            {"key": k, "from_s": round(s - t0, 2), "seconds": round(t - s, 2), "open": True}
            for k, s in self.down_since.items()
        ]
        return sorted(self.closed + still, key=lambda g: -g["seconds"])


def check_url(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - http://127.0.0.1 endpoints
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def cmd_watch(scope: Scope, args) -> int:
    daemons = scope.cfg.get("daemons", [])
    member_gaps, hub_gaps, daemon_gaps, leader_gaps = Gaps(), Gaps(), Gaps(), Gaps()
    uids: dict[str, str] = {}
    uid_changes: list[dict] = []
    went_missing: dict[str, int] = {}
    ready_min: dict[str, int] = {}
    leaders: list[dict] = []
    errors: dict[str, int] = {}
    samples = 0
    t0 = time.monotonic()
    started_at = now_iso()
    deadline = t0 + args.max_duration
    while True:
        t = time.monotonic()
        samples += 1
        for cluster in scope.members:
            try:
                objects = scope.downstream(cluster)
            except (ApiException, OSError) as err:
                errors[cluster] = errors.get(cluster, 0) + 1
                if errors[cluster] <= 3:
                    print(f"cannot read {cluster}: {type(err).__name__}", file=sys.stderr)
                continue
            seen = set()
            for key, obj in objects.items():
                seen.add(key)
                first = uids.setdefault(key, obj["uid"])
                if first != obj["uid"]:
                    uid_changes.append({"key": key, "at_s": round(t - t0, 2), "before": first, "after": obj["uid"]})
                    uids[key] = obj["uid"]
                if key.split("/")[1] == "Deployment":
                    member_gaps.observe(key, obj["available"], t, t0)
            for key in [k for k in uids if k.startswith(cluster + "/") and k not in seen]:
                went_missing[key] = went_missing.get(key, 0) + 1
                if key.split("/")[1] == "Deployment":
                    member_gaps.observe(key, False, t, t0)
        try:
            for key, dep in scope.hub_deployments().items():
                hub_gaps.observe(key, dep["available"], t, t0)
            leader = scope.leader()
            leader_gaps.observe("leader", leader is not None, t, t0)
            if not leaders or leaders[-1]["holder"] != leader:
                leaders.append({"holder": leader, "at_s": round(t - t0, 2)})
        except (ApiException, OSError) as err:
            errors["hub"] = errors.get("hub", 0) + 1
            if errors["hub"] <= 3:
                print(f"cannot read the hub: {type(err).__name__}", file=sys.stderr)
        ready: dict[str, int] = {}
        for daemon in daemons:
            up = check_url(daemon["url"])
            ready[daemon["role"]] = ready.get(daemon["role"], 0) + int(up)
            daemon_gaps.observe(daemon["name"], up, t, t0)
        for role, count in ready.items():
            ready_min[role] = min(ready_min.get(role, count), count)
        if os.path.exists(args.stop_file) or time.monotonic() >= deadline:
            break
        time.sleep(max(0.0, args.interval - (time.monotonic() - t)))
    end = time.monotonic()
    member = member_gaps.finish(end, t0)
    hub = hub_gaps.finish(end, t0)
    daemon = daemon_gaps.finish(end, t0)
    leaderless = leader_gaps.finish(end, t0)
    result = {
        "started": started_at,
        "ended": now_iso(),
        "duration_s": round(end - t0, 2),
        "interval_s": args.interval,
        "samples": samples,
        "mean_period_s": round((end - t0) / max(1, samples - 1), 3),
        "objects_watched": len(uids),
        "max_gap_s": member[0]["seconds"] if member else 0.0,
        "gaps": member[:50],
        "hub_max_gap_s": hub[0]["seconds"] if hub else 0.0,
        "hub_gaps": hub[:50],
        "daemon_downtime": daemon[:50],
        "ready_min": ready_min,
        "leaders": leaders,
        "max_leaderless_s": leaderless[0]["seconds"] if leaderless else 0.0,
        "uid_changes": uid_changes,
        "went_missing": [{"key": k, "samples": n} for k, n in sorted(went_missing.items())],
        "read_errors": errors,
    }
    tmp = f"{args.out}.tmp"
    with open(tmp, "w") as handle:
        json.dump(result, handle, indent=2, sort_keys=True)
    os.replace(tmp, args.out)
    print(json.dumps(result, sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--config", required=True, help="JSON file: hub_kubeconfig, clusters, namespaces ...")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("snapshot")
    wait = sub.add_parser("wait")
    wait.add_argument("--timeout", type=float, default=300)
    wait.add_argument("--interval", type=float, default=2)
    wait.add_argument("--expect-image")
    wait.add_argument("--expect-data", action="append", default=[], metavar="KEY=VALUE")
    watch = sub.add_parser("watch")
    watch.add_argument("--interval", type=float, default=1)
    watch.add_argument("--stop-file", required=True)
    watch.add_argument("--max-duration", type=float, default=3600)
    watch.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with open(args.config) as handle:
        scope = Scope(json.load(handle))
    return {"snapshot": cmd_snapshot, "wait": cmd_wait, "watch": cmd_watch}[args.command](scope, args)


if __name__ == "__main__":
    sys.exit(main())
