# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The identity of a benchmark's controller on a shared hub: it may read everything, write only its own."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from benchmarks.benchlib.common import GROUP

BENCH_LABEL = "tmc.bench/latency"
CONTROLLER_SA = "tmc-bench-latency-controller"


def rbac_objects(cluster_names: list[str]) -> list[dict]:
    read_rules = [
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"]},
        {"apiGroups": ["batch"], "resources": ["jobs"]},
        {"apiGroups": [""], "resources": ["services", "configmaps", "secrets", "namespaces"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"]},
        {"apiGroups": [GROUP], "resources": ["clusterregistrations", "workloadplacements", "syncworks"]},
    ]
    status_resources = [
        {"apiGroups": ["apps"], "resources": ["deployments/status", "statefulsets/status", "daemonsets/status"]},
        {"apiGroups": ["batch"], "resources": ["jobs/status"]},
        {"apiGroups": [""], "resources": ["services/status"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"]},
        {"apiGroups": [GROUP], "resources": ["workloadplacements/status"]},
    ]
    subject = [{"kind": "ServiceAccount", "name": CONTROLLER_SA, "namespace": "tmc-system"}]
    labels = {BENCH_LABEL: "controller"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": CONTROLLER_SA, "namespace": "tmc-system", "labels": labels},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"{CONTROLLER_SA}-read", "labels": labels},
            "rules": [{**r, "verbs": ["get", "list", "watch"]} for r in read_rules],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{CONTROLLER_SA}-read", "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"{CONTROLLER_SA}-read",
            },
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"{CONTROLLER_SA}-health", "labels": labels},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["clusterregistrations/status"],
                    "resourceNames": cluster_names,
                    "verbs": ["get", "patch", "update"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{CONTROLLER_SA}-health", "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"{CONTROLLER_SA}-health",
            },
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"{CONTROLLER_SA}-write", "labels": labels},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["syncworks"],
                    "verbs": ["get", "create", "update", "patch", "delete"],
                },
                *[{**r, "verbs": ["get", "patch", "update"]} for r in status_resources],
            ],
        },
    ]


def write_binding(namespace: str) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{CONTROLLER_SA}-write", "namespace": namespace, "labels": {BENCH_LABEL: "controller"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{CONTROLLER_SA}-write"},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_SA, "namespace": "tmc-system"}],
    }


def controller_kubeconfig(bed, hub, cluster_names: list[str], work: Path) -> Path:
    """RBAC for the benchmark's controller and a kubeconfig with a short-lived token of its ServiceAccount."""
    from hack.testbed import HUB

    for obj in rbac_objects(cluster_names):
        hub.apply(obj, "tmc-bench-latency")
    for name in cluster_names:
        hub.apply(write_binding(f"tmc-cluster-{name}"), "tmc-bench-latency")
    answer = hub.request(
        "POST",
        f"/api/v1/namespaces/tmc-system/serviceaccounts/{CONTROLLER_SA}/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 14400}},
    )
    ca = (bed.dir / "pki" / "ca.crt").read_bytes()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "bench",
        "clusters": [
            {
                "name": "hub",
                "cluster": {
                    "server": bed.server(HUB, direct=True),
                    "certificate-authority-data": base64.b64encode(ca).decode(),
                },
            }
        ],
        "users": [{"name": CONTROLLER_SA, "user": {"token": answer["status"]["token"]}}],
        "contexts": [{"name": "bench", "context": {"cluster": "hub", "user": CONTROLLER_SA}}],
    }
    path = work / "controller.kubeconfig"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle)
    return path


def delete_rbac(hub, cluster_names: list[str]) -> None:
    for name in cluster_names:
        hub.delete("rbac.authorization.k8s.io/v1", "RoleBinding", f"{CONTROLLER_SA}-write", f"tmc-cluster-{name}")
    for obj in reversed(rbac_objects(cluster_names)):
        meta = obj["metadata"]
        hub.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
