# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubeconfigs for ServiceAccounts: how a daemon in the process runtime runs as its least-privilege
identity instead of an admin kubeconfig (docs/concepts/security.md, "Least-privilege identities").

Layer 4 of the engine; private to this collection. A long-lived token Secret
(``kubernetes.io/service-account-token``) is made for the ServiceAccount when it has none; the
kubeconfig names the API server the client reached (or ``server``), its CA, and the token. The
token never leaves this function but in the kubeconfig its caller writes with mode 0600.
"""

from __future__ import annotations

import base64

from ansible_collections.tmc.multicluster.plugins.module_utils import kube

FIELD_MANAGER = "tmc-multicluster"


def token_secret_name(service_account: str) -> str:
    return f"{service_account}-token"


def token_secret(namespace: str, service_account: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": token_secret_name(service_account),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "tmc"},
            "annotations": {"kubernetes.io/service-account.name": service_account},
        },
    }


class MissingInCheckMode(Exception):
    """Check mode, and the ServiceAccount is not there (yet): an earlier task of the play may create it."""

    def __init__(self, namespace: str, service_account: str):
        super().__init__(
            f"ServiceAccount {namespace}/{service_account} does not exist yet: check mode assumes an earlier task "
            "creates it (a real run fails when it is still missing)"
        )


def ensure_token_secret(client: kube.Kube, namespace: str, service_account: str, check_mode: bool) -> bool:
    """Create the ServiceAccount's token Secret when it is missing; True when it was (or would be)."""
    if client.get("v1", "Secret", token_secret_name(service_account), namespace) is not None:
        return False
    if client.get("v1", "ServiceAccount", service_account, namespace) is None:
        if check_mode:
            raise MissingInCheckMode(namespace, service_account)
        raise kube.KubeError(f"ServiceAccount {namespace}/{service_account} does not exist", 404, "NotFound")
    if not check_mode:
        client.create(token_secret(namespace, service_account))
    return True


def kubeconfig_for(
    client: kube.Kube,
    namespace: str,
    service_account: str,
    server: str | None = None,
    context_namespace: str | None = None,
    timeout: float = 30,
) -> dict:
    """A kubeconfig of ``namespace/service_account``'s token for the API server ``client`` reaches."""

    def token():
        secret = client.get("v1", "Secret", token_secret_name(service_account), namespace) or {}
        return (secret.get("data") or {}).get("token")

    encoded = client.wait_for(token, timeout, what=f"the token of {namespace}/{service_account}")
    conn = client.connection
    cluster: dict = {"server": server or conn.server}
    if conn.ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(conn.ca_data).decode()
    if not conn.verify:
        cluster["insecure-skip-tls-verify"] = True
    if conn.tls_server_name and not server:
        cluster["tls-server-name"] = conn.tls_server_name
    user = f"{namespace}-{service_account}"
    context = {"cluster": "tmc", "user": user}
    if context_namespace:
        context["namespace"] = context_namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": user,
        "clusters": [{"name": "tmc", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": base64.b64decode(encoded).decode()}}],
        "contexts": [{"name": user, "context": context}],
    }
