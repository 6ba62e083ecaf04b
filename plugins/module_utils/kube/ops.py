# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers over a client: apply with diff (check mode), readiness waits, a flattened kubeconfig."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.tmc.multicluster.plugins.module_utils import kubeconfig
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.client import Kube

_VOLATILE_METADATA = ("managedFields", "resourceVersion")


def comparable(obj: Mapping | None) -> dict | None:
    """The object without fields that change on every write (for change detection)."""
    if obj is None:
        return None
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in _VOLATILE_METADATA}
    return {**obj, "metadata": meta}


@dataclass
class Change:
    """What one ensure_* call did (or, in check mode, would do)."""

    changed: bool
    before: dict | None
    after: dict | None

    def diff(self) -> dict:
        return {"before": comparable(self.before) or {}, "after": comparable(self.after) or {}}


def ensure_applied(k: Kube, obj: Mapping, field_manager: str, check_mode: bool = False) -> Change:
    """Server-side apply ``obj`` unless the server says it would change nothing.

    A server-side dry run predicts the result, so check mode reports exactly
    what a real run would change (defaults and admission included).
    """
    meta = obj.get("metadata", {})
    before = k.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    predicted = k.apply(obj, field_manager, dry_run=True)
    if before is not None and comparable(before) == comparable(predicted):
        return Change(False, before, before)
    after = predicted if check_mode else k.apply(obj, field_manager)
    return Change(True, before, after)


def ensure_absent(k: Kube, obj: Mapping, check_mode: bool = False, propagation: str = "Background") -> Change:
    meta = obj.get("metadata", {})
    before = k.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    if before is None or before.get("metadata", {}).get("deletionTimestamp"):
        return Change(False, before, None)  # gone, or already being deleted
    if not check_mode:
        k.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"), propagation=propagation)
    return Change(True, before, None)


def _condition_true(obj: Mapping, condition: str) -> bool:
    return any(
        c.get("type") == condition and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


def is_ready(obj: Mapping | None) -> bool:
    """Readiness of the kinds TMC installs: CRDs Established, Namespaces Active, others exist."""
    if obj is None:
        return False
    kind = obj.get("kind")
    if kind == "CustomResourceDefinition":
        return _condition_true(obj, "Established")
    if kind == "Namespace":
        return (obj.get("status") or {}).get("phase") == "Active"
    return True


def wait_ready(k: Kube, obj: Mapping, timeout: float) -> dict:
    meta = obj.get("metadata", {})

    def current():
        found = k.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        return found if is_ready(found) else None

    return k.wait_for(current, timeout, what=f"{obj['kind']} {meta['name']} to be ready")


def wait_absent(k: Kube, obj: Mapping, timeout: float) -> None:
    meta = obj.get("metadata", {})
    k.wait_for(
        lambda: k.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")) is None,
        timeout,
        what=f"{obj['kind']} {meta['name']} to be deleted",
    )


# ------------------------------------------------------------------ kubeconfig


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data else None


def flatten_kubeconfig(k: Kube, name: str) -> dict:
    """A self-contained kubeconfig for the client ``k`` (certificates inlined, the token it presents now),
    e.g. to store a member's credentials in a hub Secret for push mode. Holds secrets: never log it."""
    conn = k.connection
    cluster: dict = {"server": conn.server}
    if conn.ca_data:
        cluster["certificate-authority-data"] = _b64(conn.ca_data)
    if not conn.verify:
        cluster["insecure-skip-tls-verify"] = True
    if conn.tls_server_name:
        cluster["tls-server-name"] = conn.tls_server_name
    if conn.proxy_url and not conn.proxy_from_environment:  # the environment here may not be the reader's
        cluster["proxy-url"] = conn.proxy_url
    creds = k.transport.current_credentials()
    user: dict = {}
    if creds.token:
        user["token"] = creds.token
    elif creds.username is not None and creds.password is not None:
        user["username"], user["password"] = creds.username, creds.password
    if creds.has_client_certificate:
        user["client-certificate-data"] = _b64(
            creds.cert_data or kubeconfig.read_file(creds.cert_file, "client-certificate")
        )
        user["client-key-data"] = _b64(creds.key_data or kubeconfig.read_file(creds.key_file, "client-key"))
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }
