# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only observations for playbooks/chaos.yml; prints one JSON document.

    python chaos_probe.py snapshot --namespace NS --hub KUBECONFIG --member NAME=KUBECONFIG ... [--lease-namespace NS]
    python chaos_probe.py observe (the snapshot options) --for SECONDS [--every SECONDS]
    python chaos_probe.py metrics URL ...
    python chaos_probe.py ports --file FILE --count N [--run K]

``snapshot`` reads, with the Kubernetes Python client (real API servers only):

- on the hub: the namespace's workloads (uid, generation, spec.replicas, aggregated
  status, ConfigMap data), its SyncWorks (cluster, source, deleting, applied,
  available), the controllers' leader Lease and every registered cluster's Ready
  condition, heartbeat and taints;
- on every member: the namespace's objects managed by TMC (uid, generation, image,
  replicas, data), its pods (uid, restarts) and ReplicaSets.

An API server that does not answer is reported as ``reachable: false`` with the
error, never as an empty list. ``metrics`` scrapes Prometheus endpoints and keeps the
``tmc_*`` and ``syncer_*`` samples (histogram buckets left out). Nothing is written
anywhere, and no credential is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import socket
import sys
import time
import urllib.request

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
KINDS = (("apps/v1", "Deployment"), ("v1", "ConfigMap"), ("v1", "Service"))
TIMEOUT = 8


def _client(kubeconfig):
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.retries = False
    return client.ApiClient(configuration)


def _get(api, path, query=None):
    """GET a path; the parsed JSON, or None on 404."""
    method, url, headers, _body, _post = api.param_serialize(
        "GET",
        path,
        query_params=list((query or {}).items()),
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, header_params=headers, _request_timeout=TIMEOUT)
    data = response.read()
    if response.status == 404:
        return None
    if not 200 <= response.status < 300:
        raise RuntimeError(f"GET {path}: HTTP {response.status}")
    return json.loads(data or b"null")


def _epoch(stamp):
    if not stamp:
        return None
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _base(api_version):
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def _plural(kind):
    return kind.lower() + "s"


def _describe(obj):
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    written = [  # the syncer's own writes of the object (not the member controllers' status or annotations)
        _epoch(m.get("time"))
        for m in meta.get("managedFields") or []
        if m.get("time") and m.get("manager") == "tmc-syncer" and not m.get("subresource")
    ]
    found = {
        "uid": meta["uid"],
        "generation": meta.get("generation"),
        "updated": max(written, default=None),  # the member API server's time of it (whole seconds)
        "created": meta.get("creationTimestamp"),
        "deleting": bool(meta.get("deletionTimestamp")),
    }
    if obj["kind"] == "Deployment":
        containers = spec.get("template", {}).get("spec", {}).get("containers") or [{}]
        status = obj.get("status") or {}
        found.update(
            replicas=spec.get("replicas"),
            image=containers[0].get("image"),
            available_replicas=status.get("availableReplicas") or 0,
            observed_generation=status.get("observedGeneration"),
        )
    elif obj["kind"] == "ConfigMap":
        found["data"] = obj.get("data") or {}
    return found


def _objects(api, namespace, selector=None):
    objects = {}
    for api_version, kind in KINDS:
        query = {"labelSelector": selector} if selector else None
        listing = _get(api, f"{_base(api_version)}/namespaces/{namespace}/{_plural(kind)}", query) or {}
        for obj in listing.get("items", []):
            obj["kind"] = kind
            if kind == "ConfigMap" and obj["metadata"]["name"] == "kube-root-ca.crt":
                continue
            if kind == "Service" and obj["metadata"]["name"] == "kubernetes":
                continue
            objects[f"{kind}/{obj['metadata']['name']}"] = _describe(obj)
    return objects


def _observe(kubeconfig, read):
    """``{"reachable": True, **read(api)}``, or what went wrong: an unreachable cluster is an observation."""
    api = _client(kubeconfig)
    try:
        return {"reachable": True, **read(api)}
    except Exception as err:  # noqa: BLE001 - an unreachable hub or member is an observation, not a crash
        return {"reachable": False, "error": f"{type(err).__name__}: {str(err)[:200]}"}
    finally:
        api.close()


def _hub(kubeconfig, namespace, lease_namespace):
    return _observe(kubeconfig, lambda api: _hub_facts(api, namespace, lease_namespace))


def _hub_facts(api, namespace, lease_namespace):
    hub = {}
    hub["sources"] = _objects(api, namespace)
    works = _get(
        api,
        f"/apis/{GROUP}/{VERSION}/syncworks",
        {"labelSelector": f"{GROUP}/source-namespace={namespace}"},
    ) or {"items": []}
    hub["syncworks"] = sorted(
        (
            {
                "name": w["metadata"]["name"],
                "cluster": w["spec"].get("cluster"),
                "source": "{kind}/{name}".format(**w["spec"].get("source", {})),
                "deleting": bool(w["metadata"].get("deletionTimestamp")),
                "applied": bool((w.get("status") or {}).get("applied")),
                "available": bool((w.get("status") or {}).get("available")),
            }
            for w in works["items"]
        ),
        key=lambda w: (w["source"], w["cluster"] or ""),
    )
    lease = _get(api, f"/apis/coordination.k8s.io/v1/namespaces/{lease_namespace}/leases/tmc-controller") or {}
    spec = lease.get("spec") or {}
    hub["leader"] = {
        "holder": spec.get("holderIdentity") or None,
        "renewed": _epoch(spec.get("renewTime")),
        "acquired": _epoch(spec.get("acquireTime")),
        "transitions": spec.get("leaseTransitions") or 0,
    }
    clusters = {}
    listing = _get(api, f"/apis/{GROUP}/{VERSION}/clusterregistrations") or {"items": []}
    for reg in listing["items"]:
        status = reg.get("status") or {}
        ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
        clusters[reg["metadata"]["name"]] = {
            "ready": ready.get("status"),
            "heartbeat": _epoch(status.get("lastHeartbeatTime")),
            "taints": sorted(f"{t.get('key')}:{t.get('effect')}" for t in (reg.get("spec") or {}).get("taints") or [])
            + sorted(f"{t.get('key')}:{t.get('effect')}" for t in status.get("taints") or []),
        }
    leases = _get(api, "/apis/coordination.k8s.io/v1/namespaces/tmc-system/leases") or {"items": []}
    for lease in leases["items"]:
        name = lease["metadata"]["name"].removeprefix("cluster-")
        if name in clusters:
            clusters[name]["lease_renewed"] = _epoch((lease.get("spec") or {}).get("renewTime"))
    hub["clusters"] = clusters
    return hub


def _member(kubeconfig, namespace):
    return _observe(kubeconfig, lambda api: _member_facts(api, namespace))


def _member_facts(api, namespace):
    member = {"objects": _objects(api, namespace, f"{GROUP}/managed=true")}
    pods = _get(api, f"/api/v1/namespaces/{namespace}/pods") or {"items": []}
    member["pods"] = {
        p["metadata"]["name"]: {
            "uid": p["metadata"]["uid"],
            "restarts": sum(c.get("restartCount", 0) for c in (p.get("status") or {}).get("containerStatuses") or []),
        }
        for p in pods["items"]
        if not p["metadata"].get("deletionTimestamp")
    }
    sets = _get(api, f"/apis/apps/v1/namespaces/{namespace}/replicasets") or {"items": []}
    member["replicasets"] = sorted(r["metadata"]["name"] for r in sets["items"])
    return member


def _summary(snap, clusters):
    """Derived facts the playbook asserts on, keyed "<cluster>/<Kind>/<name>" or "<Kind>/<name>"."""
    hub, members = snap["hub"], snap["members"]
    summary = {
        "ready": sorted(c for c in clusters if hub.get("clusters", {}).get(c, {}).get("ready") == "True"),
        "unreachable": sorted(
            [c for c, m in members.items() if not m["reachable"]] + ([] if hub["reachable"] else ["hub"])
        ),
        "copies": {},
        "works": {},
        "works_deleting": 0,
        "works_not_available": 0,
        "duplicates": 0,
        "stale": 0,
        "uids": {},
        "generations": {},
        "updated": {},
        "available": {},
        "replicas": {},
        "data": {},
        "pods": {},
        "hub_available": {
            k: v.get("available_replicas") for k, v in hub.get("sources", {}).items() if "available_replicas" in v
        },
    }
    for cluster, member in members.items():
        for key, obj in member.get("objects", {}).items():
            if obj["deleting"]:
                continue
            summary["copies"].setdefault(key, []).append(cluster)
            summary["uids"][f"{cluster}/{key}"] = obj["uid"]
            summary["generations"][f"{cluster}/{key}"] = obj["generation"]
            summary["updated"][f"{cluster}/{key}"] = obj["updated"]
            if "available_replicas" in obj:
                summary["available"][f"{cluster}/{key}"] = obj["available_replicas"]
                summary["replicas"][f"{cluster}/{key}"] = obj["replicas"]
            if "data" in obj:
                summary["data"][f"{cluster}/{key}"] = obj["data"]
        for pod, info in member.get("pods", {}).items():
            summary["pods"][f"{cluster}/{pod}"] = info["uid"]
    seen = {}
    for work in hub.get("syncworks", []):
        if work["deleting"]:
            summary["works_deleting"] += 1
            continue
        summary["works"].setdefault(work["source"], []).append(work["cluster"])
        seen[(work["source"], work["cluster"])] = seen.get((work["source"], work["cluster"]), 0) + 1
        if not work["available"]:
            summary["works_not_available"] += 1
    summary["duplicates"] = sum(n - 1 for n in seen.values() if n > 1)
    if hub["reachable"]:
        # A copy on a reachable member without a live SyncWork for it is stale.
        for key, holders in summary["copies"].items():
            summary["stale"] += sum(1 for c in holders if (key, c) not in seen)
    for key in summary["copies"]:
        summary["copies"][key].sort()
    for key in summary["works"]:
        summary["works"][key].sort()
    return summary


def snapshot(args):
    members = dict(item.split("=", 1) for item in args.member)
    snap = {
        "time": time.time(),
        "hub": _hub(args.hub, args.namespace, args.lease_namespace),
        "members": {name: _member(path, args.namespace) for name, path in sorted(members.items())},
    }
    snap["summary"] = _summary(snap, sorted(members))
    return snap


def observe(args):
    """Snapshots every ``--every`` seconds for ``--for`` seconds: the first, the last, and what changed between."""
    end = time.monotonic() + args.seconds
    first = last = snapshot(args)
    min_copies = {k: len(v) for k, v in first["summary"]["copies"].items()}
    pods_missing, uids_changed, max_age, samples = set(), set(), {}, 0
    not_ready: dict = {}  # cluster -> samples in which the hub did not say Ready=True
    taints_seen: dict = {}  # cluster -> every taint seen on it during the observation
    while time.monotonic() < end:
        time.sleep(min(args.every, max(0.0, end - time.monotonic())))
        last = snapshot(args)
        samples += 1
        summary = last["summary"]
        for key in min_copies:
            reachable = [c for c in summary["copies"].get(key, []) if c not in summary["unreachable"]]
            unseen = sum(1 for c in first["summary"]["copies"][key] if c in summary["unreachable"])
            min_copies[key] = min(min_copies[key], len(reachable) + unseen)
        for key, uid in first["summary"]["pods"].items():
            cluster = key.split("/", 1)[0]
            if cluster not in summary["unreachable"] and summary["pods"].get(key) != uid:
                pods_missing.add(key)
        for key, uid in first["summary"]["uids"].items():
            cluster = key.split("/", 1)[0]
            if cluster not in summary["unreachable"] and summary["uids"].get(key) != uid:
                uids_changed.add(key)
        for cluster, info in last["hub"].get("clusters", {}).items():
            if last["hub"]["reachable"] and info.get("ready") != "True":
                not_ready[cluster] = not_ready.get(cluster, 0) + 1
            taints_seen.setdefault(cluster, set()).update(info.get("taints") or [])
            if info.get("lease_renewed"):
                age = last["time"] - info["lease_renewed"]
                max_age[cluster] = round(max(max_age.get(cluster, 0.0), age), 2)
    return {
        "first": first,
        "last": last,
        "samples": samples,
        "min_copies": min_copies,
        "pods_missing": sorted(pods_missing),
        "uids_changed": sorted(uids_changed),
        "max_heartbeat_age": max_age,
        "not_ready_samples": not_ready,
        "taints_seen": {cluster: sorted(seen) for cluster, seen in taints_seen.items()},
    }


def ports(args):
    """``--run`` consecutive free local ports, then ``count - run`` more, remembered in ``file`` (same on a rerun)."""
    try:
        with open(args.file) as handle:
            known = json.load(handle)
        if len(known) == args.count:
            return known
    except (OSError, ValueError):
        pass
    held = []

    def hold(port):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            return None
        held.append(sock)
        return sock.getsockname()[1]

    try:
        found = []
        while len(found) < args.run:
            found = [hold(0)]
            while len(found) < args.run and hold(found[-1] + 1):
                found.append(found[-1] + 1)
        while len(found) < args.count:
            found.append(hold(0))
    finally:
        for sock in held:
            sock.close()
    with open(args.file, "w") as handle:
        json.dump(found, handle)
    return found


SAMPLE = re.compile(r"^((?:tmc|syncer)_[a-z_]+)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)$")


def metrics(args):
    result = {}
    for url in args.url:
        samples = {}
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
                text = response.read().decode()
        except OSError as err:
            result[url] = {"reachable": False, "error": str(err)[:200]}
            continue
        for line in text.splitlines():
            match = SAMPLE.match(line)
            if match and not match.group(1).endswith(("_bucket", "_created")):
                samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
        result[url] = {"reachable": True, "samples": samples}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    snap = verbs.add_parser("snapshot")
    snap.add_argument("--namespace", required=True)
    snap.add_argument("--lease-namespace", default="tmc-system")
    snap.add_argument("--hub", required=True)
    snap.add_argument("--member", action="append", default=[], help="NAME=KUBECONFIG (repeat)")
    watch = verbs.add_parser("observe")
    watch.add_argument("--namespace", required=True)
    watch.add_argument("--lease-namespace", default="tmc-system")
    watch.add_argument("--hub", required=True)
    watch.add_argument("--member", action="append", default=[], help="NAME=KUBECONFIG (repeat)")
    watch.add_argument("--for", dest="seconds", type=float, required=True)
    watch.add_argument("--every", type=float, default=1.0)
    scrape = verbs.add_parser("metrics")
    scrape.add_argument("url", nargs="+")
    free = verbs.add_parser("ports")
    free.add_argument("--file", required=True)
    free.add_argument("--count", type=int, required=True)
    free.add_argument("--run", type=int, default=1, help="how many of them are consecutive")
    args = parser.parse_args(argv)
    verb = {"snapshot": snapshot, "observe": observe, "metrics": metrics, "ports": ports}[args.verb]
    print(json.dumps(verb(args), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
