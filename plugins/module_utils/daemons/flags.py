# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The flags both daemons take (DESIGN.md section 4), and how they are read."""

from __future__ import annotations

import argparse

from ansible_collections.tmc.multicluster.plugins.module_utils import api

# Hub status writes (SyncWork status from a syncer, source status from the controller): a quiet
# daemon writes each change at once; during a burst (a thousand workloads rolling out) the writes
# queue behind the rate, and an object is written once with whatever its status has become.
STATUS_QPS = 20.0
STATUS_BURST = 50
# While a daemon has new desired states waiting, its status writes wait for them, each up to this
# many seconds (StatusHold): spec first, then one write with the status as it has become.
STATUS_HOLD = 30.0


def boolean(text: str) -> bool:
    return str(text).strip().lower() in ("1", "true", "yes", "on")


def common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig of the hub (default: in-cluster or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context of the hub")
    parser.add_argument("--server", help="hub API server URL (with --token-file)")
    parser.add_argument("--token-file", help="file holding a bearer token for the hub")
    parser.add_argument("--certificate-authority", help="CA bundle of the hub API server")
    parser.add_argument("--insecure-skip-tls-verify", action="store_true", help="do not verify the hub's certificate")
    parser.add_argument("--namespace", default=api.SYSTEM_NAMESPACE, help="TMC's system namespace on the hub")
    parser.add_argument("--concurrency", type=int, default=4, help="workers handling keys in parallel")
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds one API request (not a watch) may take; a slower one fails, is retried with backoff "
        "and counts against the circuit breaker",
    )
    parser.add_argument("--resync-period", type=float, default=300.0, help="seconds between full resyncs")
    parser.add_argument(
        "--resource-types",
        default="",
        help="kinds to place (comma list of Kind or group/Kind); default: the placements' lists",
    )
    parser.add_argument("--namespaces", default="", help="only these hub namespaces (comma list); default all")
    parser.add_argument("--label-selector", default="", help="only workloads with these labels")
    parser.add_argument("--metrics-port", type=int, default=0, help="port of /metrics (0: off)")
    parser.add_argument("--health-port", type=int, default=0, help="port of /healthz and /readyz (0: off)")
    parser.add_argument("--bind-address", default="127.0.0.1", help="address of the HTTP endpoints")
    parser.add_argument("--feature-gates", default="", help="for example TMC=true,TMCFailover=false")
    parser.add_argument("--log-format", choices=["json", "text"], default="json")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--heartbeat-threshold",
        type=float,
        default=40.0,
        help="seconds without heartbeat before a cluster is not Ready",
    )
    parser.add_argument(
        "--eviction-timeout",
        type=float,
        default=300.0,
        help="seconds without heartbeat before a cluster's workloads fail over",
    )
    parser.add_argument(
        "--status-qps",
        type=float,
        default=STATUS_QPS,
        help="status writes to the hub per second, on average (0: no limit); an object whose status changes "
        "again while its write waits is written once, with its latest status",
    )
    parser.add_argument(
        "--status-burst", type=int, default=STATUS_BURST, help="status writes to the hub allowed at once"
    )
    parser.add_argument(
        "--status-hold",
        type=float,
        default=STATUS_HOLD,
        help="while new desired states wait, status writes wait for them, each up to this many seconds (0: never held)",
    )


def split_list(text: str) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]
