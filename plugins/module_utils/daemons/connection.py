# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemons' API server clients: where the hub is (flags, in-cluster), and a client of their own."""

from __future__ import annotations

import argparse
import os

from ansible_collections.tmc.multicluster.plugins.module_utils import kube
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.observability import Metrics


def hub_config(args: argparse.Namespace) -> kube.ClientConfig:
    """The hub connection the flags describe. A --token-file is re-read at most once a minute."""
    if not args.kubeconfig and not args.server and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster_config(args.request_timeout)
    return kube.ClientConfig(
        request_timeout=args.request_timeout,
        kubeconfig=args.kubeconfig,
        context=args.context,
        host=args.server,
        token_file=args.token_file or None,
        ca_cert=args.certificate_authority,
        validate_certs=not args.insecure_skip_tls_verify,
    )


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def in_cluster_config(request_timeout: float = 30.0, base: str = SERVICE_ACCOUNT_DIR) -> kube.ClientConfig:
    """The pod's ServiceAccount: its token is re-read at most once a minute (the kubelet rotates it)."""
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    if ":" in host:  # IPv6
        host = f"[{host}]"
    server = f"https://{host}:{os.environ.get('KUBERNETES_SERVICE_PORT', '443')}"
    return kube.ClientConfig(
        host=server, token_file=f"{base}/token", ca_cert=f"{base}/ca.crt", request_timeout=request_timeout
    )


# A daemon holds a connection per watch (one per kind, and per namespace with --namespaces) besides
# its workers' parallel writes (the controller writes 8 SyncWorks at once in each of --concurrency
# passes). A pool that keeps fewer drops the rest after each use and opens them again, with a
# TLS handshake each time ("Connection pool is full" in the log, 30-45 times in a 10,000 run).
# The pool opens no more connections than are in use at once; this only lets it keep them.
DAEMON_POOL_MAXSIZE = 256


def daemon_client(
    cfg: kube.ClientConfig, server: str, metrics: Metrics, user_agent: str = kube.USER_AGENT
) -> kube.Kube:
    """A client of its own (not the modules' pool) with a circuit breaker and request metrics.
    ``user_agent`` names the daemon and its identity (the hub's audit log shows it)."""
    breaker = kube.CircuitBreaker(threshold=5, cooldown=5.0)
    metrics.watch_breaker(server, breaker)
    return kube.Kube(
        kube.make_transport(cfg, DAEMON_POOL_MAXSIZE),
        cfg,
        retry=kube.RetryPolicy(attempts=4, base_delay=0.2, max_delay=2.0),
        breaker=breaker,
        observer=metrics.observer(server),
        user_agent=user_agent,
    )


def elector_client(cfg: kube.ClientConfig, user_agent: str) -> kube.Kube:
    """The leader election's own client: its own connections (never queued behind the workers'), no
    retries and no circuit breaker (an attempt is bounded by the renew deadline as a whole: a retry
    or a breaker's wait inside it would stretch it)."""
    return kube.Kube(kube.make_transport(cfg, 2), cfg, retry=kube.NO_RETRY, user_agent=user_agent)


def user_agent(daemon: str, identity: str) -> str:
    """``tmc-<daemon>/<identity>``: what the hub's audit log groups requests by."""
    return f"tmc-{daemon}/{identity}"
