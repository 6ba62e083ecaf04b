# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubectl tmc: see the fleet, explain placements, cordon and drain clusters, ask what-if, run the doctor.

Commands:
  clusters                          every member cluster: health judged now, heartbeat, taints, capacity, workloads
  placements [-n NS]                every WorkloadPlacement (all namespaces unless -n) and its decisions
  explain PLACEMENT -n NS [--workload [KIND/]NAME]
                                    why each cluster is or is not chosen (the engine, decided now)
  workloads -n NS                   each workload per cluster: state, replicas, the member's message
  cordon|uncordon|drain CLUSTER     no new placements | back to normal | and move every workload off
  what-if --lose CLUSTER | --drain CLUSTER [-n NS]
                                    the decisions that would result, computed offline (nothing written)
  doctor [--daemon NAME=URL ...]    check hub, CRDs, admission policies, daemons, leader, heartbeats, SyncWorks
"""

from __future__ import annotations

import argparse
import os
import sys

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.cli import cordon, doctor, fleet, whatif
from ansible_collections.tmc.multicluster.plugins.module_utils.cli.output import FORMATS, Result, render


def _daemon(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"--daemon wants NAME=URL (http://host:port), got {text!r}")
    return name, url


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubectl tmc",
        description=__doc__.split("\n\n", maxsplit=1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.epilog = __doc__.split("\n\n", 1)[1]
    p.add_argument(
        "--kubeconfig", default=os.environ.get("KUBECONFIG"), help="the hub's kubeconfig (default: $KUBECONFIG)"
    )
    p.add_argument("--context", help="kubeconfig context of the hub")
    p.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument(
        "--heartbeat-threshold",
        type=float,
        default=health.DEFAULT_HEARTBEAT_THRESHOLD,
        help="seconds without heartbeat before a cluster is not Ready (as the controller's flag)",
    )
    p.add_argument(
        "--eviction-timeout",
        type=float,
        default=health.DEFAULT_EVICTION_TIMEOUT,
        help="seconds without heartbeat before workloads fail over (as the controller's flag)",
    )
    p.add_argument("--feature-gates", default="", help="as the controller's --feature-gates")
    # The connection and output flags are accepted after the command too (kubectl tmc clusters -o yaml);
    # there they override the ones before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kubeconfig", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--context", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("-o", "--output", choices=FORMATS, default=argparse.SUPPRESS, help="output format")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    original_add_parser = sub.add_parser
    sub.add_parser = lambda *a, **kw: original_add_parser(*a, parents=[common], **kw)
    sub.add_parser("clusters", help="member clusters")
    placements = sub.add_parser("placements", help="WorkloadPlacements and their decisions")
    placements.add_argument("-n", "--namespace")
    explain = sub.add_parser("explain", help="why each cluster is or is not chosen")
    explain.add_argument("placement")
    explain.add_argument("-n", "--namespace", required=True)
    explain.add_argument("--workload", help="[KIND/]NAME of one workload: selected? replicas per cluster?")
    workloads = sub.add_parser("workloads", help="workloads per cluster")
    workloads.add_argument("-n", "--namespace", required=True)
    workloads.add_argument("--placement")
    workloads.add_argument("--cluster")
    workloads.add_argument("--kind")
    for verb, text in (
        ("cordon", "no new workloads on CLUSTER"),
        ("uncordon", "undo cordon and drain"),
        ("drain", "cordon CLUSTER and move its workloads off"),
    ):
        one = sub.add_parser(verb, help=text)
        one.add_argument("cluster")
        one.add_argument("--dry-run", action="store_true", help="server-side dry run: change nothing")
    what = sub.add_parser("what-if", help="decisions if a cluster were lost or drained (offline)")
    scenario = what.add_mutually_exclusive_group(required=True)
    scenario.add_argument("--lose", metavar="CLUSTER")
    scenario.add_argument("--drain", metavar="CLUSTER")
    what.add_argument("-n", "--namespace")
    doc = sub.add_parser("doctor", help="check the installation and say what to fix")
    doc.add_argument(
        "--daemon",
        action="append",
        type=_daemon,
        default=[],
        metavar="NAME=URL",
        help="a daemon's health endpoint base URL (repeatable), e.g. syncer-east=http://10.0.0.5:9461",
    )
    doc.add_argument(
        "--stale-after",
        type=float,
        default=300.0,
        help="seconds a SyncWork's new desired state may wait to be applied (default: %(default)s)",
    )
    doc.add_argument(
        "--leader-lease-duration",
        type=float,
        default=15.0,
        help="the controller's --leader-elect-lease-duration (default: %(default)s)",
    )
    return p


def run(args: argparse.Namespace, hub: kube.Kube) -> Result:
    thresholds = health.Thresholds(args.heartbeat_threshold, args.eviction_timeout)
    gates = api.FeatureGates.from_flag(args.feature_gates)
    command = args.command
    if command == "clusters":
        return fleet.clusters_command(hub, thresholds)
    if command == "placements":
        return fleet.placements_command(hub, args.namespace)
    if command == "explain":
        return fleet.explain_command(hub, args.namespace, args.placement, args.workload, thresholds, gates)
    if command == "workloads":
        return fleet.workloads_command(hub, args.namespace, args.placement, args.cluster, args.kind)
    if command in ("cordon", "uncordon", "drain"):
        return cordon.set_state(hub, args.cluster, command, args.dry_run)
    if command == "what-if":
        return whatif.what_if(hub, args.lose, args.drain, args.namespace, thresholds, gates)
    return doctor.doctor(hub, thresholds, dict(args.daemon), args.stale_after, args.leader_lease_duration)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        hub = kube.client_for(kube.ClientConfig(kubeconfig=args.kubeconfig, context=args.context))
        result = run(args, hub)
    except kube.KubeError as err:
        print(f"kubectl tmc: the hub said: {err}", file=sys.stderr)
        return 2
    except api.TMCError as err:
        print(f"kubectl tmc: {err}", file=sys.stderr)
        return 2
    print(render(result, args.output))
    return result.exit_code
