"""The testbed hub's audit log: its policy, and a reader that tells who wrote what, when.

Each kube-apiserver of the testbed (the hub's and each member's) writes one JSON event per write
(create, update, patch, delete) to TMC's objects, Leases and the kinds TMC syncs, at ``Metadata``
level (who, what, when, the answer's code: never a body), into ``<state>/<cluster>/audit/audit.log``
(``Testbed.audit_dir_of``), rotated at
``MAX_SIZE_MB`` with ``MAX_BACKUPS`` old files kept. Reads are not logged. The log is on in the
testbed (tests, demos, chaos); ``TMC_TESTBED_AUDIT=0`` at ``up`` turns it off.

It is an oracle that is not our code: the API server itself says which client (by its
User-Agent: the daemons send ``tmc-<daemon>/<identity>``) sent each write and when it came in.

    python -m hack.testbed.audit writes --state DIR [--since EPOCH] [--agent-prefix P] [--bucket S]
    python -m hack.testbed.audit leadership --state DIR --lease NAME --lease-namespace NS [--since EPOCH]

``writes``: writes per user agent, per time bucket. ``leadership``: the lease's terms (who held
it, from when) and whether any controller identity wrote outside its own term (see
``leadership``). Both print one JSON document. ``Writes`` is the write counter others reuse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

LOG_NAME = "audit.log"
MAX_SIZE_MB = 50
MAX_BACKUPS = 5
WRITES = ("create", "update", "patch", "delete", "deletecollection")
CONTROLLER_AGENT = "tmc-controller/"
SYNCED_GROUPS = ("apps", "batch", "networking.k8s.io", "policy", "autoscaling")
SYNCED_CORE = ("configmaps", "secrets", "services", "serviceaccounts", "namespaces", "persistentvolumeclaims")

POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "verbs": ["get", "list", "watch"]},
        {
            "level": "Metadata",
            "verbs": list(WRITES),
            "resources": [
                {"group": "tmc.kcp.io"},
                {"group": "coordination.k8s.io", "resources": ["leases"]},
                {"group": "", "resources": list(SYNCED_CORE)},
                *({"group": group} for group in SYNCED_GROUPS),
            ],
        },
        {"level": "None"},
    ],
}


def enabled() -> bool:
    return os.environ.get("TMC_TESTBED_AUDIT", "1").strip().lower() not in ("0", "false", "no", "off")


def log_dir(cluster_dir: Path) -> Path:
    return Path(cluster_dir) / "audit"


def apiserver_args(cluster_dir: Path) -> list[str]:
    """The kube-apiserver flags of the audit log (writes the policy file)."""
    directory = log_dir(cluster_dir)
    directory.mkdir(parents=True, exist_ok=True)
    policy = directory / "policy.json"  # JSON is YAML: the API server reads it as a policy file
    policy.write_text(json.dumps(POLICY, indent=2))
    return [
        f"--audit-policy-file={policy}",
        f"--audit-log-path={directory / LOG_NAME}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",  # each event is in the file when its request is answered
        f"--audit-log-maxsize={MAX_SIZE_MB}",
        f"--audit-log-maxbackup={MAX_BACKUPS}",
    ]


# ------------------------------------------------------------------ reading


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def files(directory: Path) -> list[Path]:
    """The log and its rotated backups (audit-<time>.log), oldest first."""
    found = [p for p in Path(directory).glob("audit*.log") if p.is_file()]
    return sorted(found, key=lambda p: (p.name == LOG_NAME, p.stat().st_mtime))


def events(directory: Path) -> Iterator[dict]:
    """Every complete event (stage ResponseComplete or Panic), oldest first; a line cut short by a
    rotation or a crash is skipped."""
    for path in files(directory):
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("stage") in ("ResponseComplete", "Panic"):
                    yield event


@dataclass(frozen=True)
class Write:
    """One write as the API server saw it: received at ``start``, answered at ``end`` (epoch seconds)."""

    start: float
    end: float
    agent: str
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int

    @property
    def is_lease(self) -> bool:
        return self.group == "coordination.k8s.io" and self.resource == "leases"

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


def writes(source: Iterable[dict], since: float | None = None, agent_prefix: str = "") -> list[Write]:
    """The write events (of agents whose User-Agent starts with ``agent_prefix``), oldest first."""
    found = []
    for event in source:
        if event.get("verb") not in WRITES:
            continue
        agent = event.get("userAgent") or ""
        if not agent.startswith(agent_prefix):
            continue
        start = _epoch(event.get("requestReceivedTimestamp"))
        end = _epoch(event.get("stageTimestamp")) or start
        if start is None or (since is not None and end < since):
            continue
        ref = event.get("objectRef") or {}
        found.append(
            Write(
                start=start,
                end=end,
                agent=agent,
                verb=event["verb"],
                group=ref.get("apiGroup") or "",
                resource=ref.get("resource") or "",
                subresource=ref.get("subresource") or "",
                namespace=ref.get("namespace") or "",
                name=ref.get("name") or "",
                code=int((event.get("responseStatus") or {}).get("code") or 0),
            )
        )
    return sorted(found, key=lambda w: (w.start, w.end))


def per_agent(found: Iterable[Write], bucket: float = 1.0) -> dict[str, dict[int, int]]:
    """Writes per user agent per ``bucket`` seconds (keys: the bucket's start, epoch seconds)."""
    counts: dict[str, dict[int, int]] = {}
    for write in found:
        slot = int(write.start // bucket * bucket)
        counts.setdefault(write.agent, {}).setdefault(slot, 0)
        counts[write.agent][slot] += 1
    return counts


def leadership(
    found: list[Write],
    lease: str,
    lease_namespace: str,
    agent_prefix: str = CONTROLLER_AGENT,
    since: float | None = None,
) -> dict:
    """Did two controller identities ever write in the same lease window?

    The lease's terms come from its successful writes: a term of identity X begins when the first
    write of X to the lease after another identity's is answered (X acquired it) and lasts until
    the next term begins. Every other write of a controller identity (SyncWorks, status, clusters:
    whatever its answer) must come in inside a term of its own; one that comes in during another's
    term is a violation: two identities could write from that term's start until the stray write was
    answered. Independently of the lease, the writes are cut into runs of one identity, and a run
    whose last answer comes after the next run's first write overlaps it. ``max_overlap_seconds``:
    the longest of these intervals (0.0: there was never a moment when two identities could write).
    ``since``: only the writes answered after it are judged (the terms come from every lease write,
    so that the term running at ``since`` is known).
    """
    ours = [w for w in found if w.agent.startswith(agent_prefix)]
    lease_writes = [w for w in ours if w.is_lease and w.name == lease and w.namespace == lease_namespace and w.ok]
    terms: list[dict] = []
    for write in lease_writes:
        if not terms or terms[-1]["agent"] != write.agent:
            terms.append({"agent": write.agent, "from": write.end})
    others = [w for w in ours if not w.is_lease and (since is None or w.end >= since)]
    violations = []
    for write in others:
        term = next((t for t in reversed(terms) if t["from"] <= write.start), None)
        if term is None or term["agent"] != write.agent:
            violations.append(
                {
                    "write": asdict(write),
                    "holder": None if term is None else term["agent"],
                    "into_term_seconds": None if term is None else round(write.start - term["from"], 3),
                }
            )
    runs: list[dict] = []
    for write in others:
        if runs and runs[-1]["agent"] == write.agent:
            runs[-1]["last_end"] = max(runs[-1]["last_end"], write.end)
            runs[-1]["writes"] += 1
        else:
            runs.append({"agent": write.agent, "first_start": write.start, "last_end": write.end, "writes": 1})
    overlaps = [max(0.0, a["last_end"] - b["first_start"]) for a, b in zip(runs, runs[1:], strict=False)]
    overlaps += [v["write"]["end"] - (v["write"]["start"] - v["into_term_seconds"]) for v in violations if v["holder"]]
    handovers = [
        {"from": a["agent"], "to": b["agent"], "gap_seconds": round(b["first_start"] - a["last_end"], 3)}
        for a, b in zip(runs, runs[1:], strict=False)
    ]
    return {
        "terms": [{"agent": t["agent"], "from": t["from"]} for t in terms],
        "identities": sorted({w.agent for w in others}),
        "writes": len(others),
        "runs": len(runs),
        "handovers": handovers,
        "max_overlap_seconds": round(max(overlaps, default=0.0), 3),
        "violations": violations[:20],
        "violation_count": len(violations),
        "single_writer": not violations and not any(overlaps),
    }


# ------------------------------------------------------------------ command line


def _directory(state: str) -> Path:
    return log_dir(Path(state).resolve() / "hub")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hack.testbed.audit", description=__doc__.split("\n\n", maxsplit=1)[0]
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    for name in ("writes", "leadership"):
        verb = verbs.add_parser(name)
        verb.add_argument("--state", required=True, help="the testbed's state directory")
        verb.add_argument("--since", type=float, default=None, help="only writes answered after (epoch seconds)")
        verb.add_argument("--agent-prefix", default="" if name == "writes" else CONTROLLER_AGENT)
        if name == "writes":
            verb.add_argument("--bucket", type=float, default=1.0, help="seconds per count")
        else:
            verb.add_argument("--lease", default="tmc-controller")
            verb.add_argument("--lease-namespace", required=True)
    args = parser.parse_args(argv)
    if args.verb == "writes":
        found = writes(events(_directory(args.state)), since=args.since, agent_prefix=args.agent_prefix)
        result = {"writes": len(found), "per_agent": per_agent(found, args.bucket)}
    else:
        found = writes(events(_directory(args.state)), agent_prefix=args.agent_prefix)
        result = leadership(found, args.lease, args.lease_namespace, args.agent_prefix, since=args.since)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
