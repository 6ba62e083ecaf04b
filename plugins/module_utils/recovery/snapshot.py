# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading everything a hub backup holds at one resourceVersion.

The first list (ClusterRegistrations) is a consistent read; its resourceVersion is etcd's revision
at that moment, and every later list asks for exactly that revision (``resourceVersionMatch=Exact``),
so the backup is the hub as it was at one instant — no placement without the source it selected a
moment later. When etcd has compacted that revision meanwhile (410), the whole snapshot starts again.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan
from ansible_collections.tmc.multicluster.plugins.module_utils.recovery import document

ATTEMPTS = 3
# Always read in a placement's namespace: what propagateDependencies or an autoscaler brings along.
ALWAYS = (("", "ConfigMap"), ("", "Secret"), ("autoscaling", "HorizontalPodAutoscaler"))
API_KINDS = (
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
)


class _Snapshot:
    def __init__(self, hub: kube.Kube):
        self.hub = hub
        self.resource_version: str | None = None

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict]:
        """Every object of a kind at the snapshot's revision ([] for a kind the hub does not serve)."""
        try:
            res = self.hub.resource(api_version, kind)
        except kube.KubeError as err:
            if err.status == 404:
                return []
            raise
        items: list[dict] = []
        token = None
        while True:
            query: dict = {"limit": 500, "continue": token}
            if token is None and self.resource_version is not None:
                query.update(resourceVersion=self.resource_version, resourceVersionMatch="Exact")
            page = self.hub.request("GET", res.path(namespace), query=query)
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            if self.resource_version is None:
                self.resource_version = page.get("metadata", {}).get("resourceVersion", "")
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items


def _ours(obj: Mapping) -> bool:
    """The API objects TMC installs: its CRDs, its admission policies and its ClusterRoles."""
    name = (obj.get("metadata") or {}).get("name", "")
    if obj.get("kind") == "CustomResourceDefinition":
        return (obj.get("spec") or {}).get("group") == api.GROUP
    return name.startswith("tmc-")


def _read(hub: kube.Kube, omit_secrets: bool) -> tuple[dict[str, list], str]:
    snap = _Snapshot(hub)
    registrations = snap.list(api.API_VERSION, api.KIND_CLUSTER)
    placements = snap.list(api.API_VERSION, api.KIND_PLACEMENT)
    namespaces = sorted({p["metadata"]["namespace"] for p in placements})
    wanted: set[tuple[str, str]] = set(ALWAYS)
    for placement in placements:
        wanted.update(plan.resources_of(placement.get("spec") or {}))
    if omit_secrets:
        wanted.discard(("", "Secret"))
    sources: list[dict] = []
    for group, kind in sorted(wanted):
        try:
            version = plan.api_version_for(hub, group)
        except kube.KubeError as err:
            if err.status == 404:
                continue
            raise
        sources += [
            o
            for o in snap.list(version, kind)
            if o["metadata"].get("namespace") in namespaces and not kinds.is_self_made(o)
        ]
    sections = {
        "api": [document.clean(o) for v, k in API_KINDS for o in snap.list(v, k) if _ours(o)],
        "namespaces": [document.clean(o) for o in snap.list("v1", "Namespace") if o["metadata"]["name"] in namespaces],
        "registrations": [document.clean_registration(o) for o in registrations],
        "placements": [document.clean(o) for o in placements],
        "sources": [document.clean(o) for o in sources],
        "syncworks": [document.clean_syncwork(o) for o in snap.list(api.API_VERSION, api.KIND_SYNCWORK)],
    }
    return (document.omit_secrets(sections) if omit_secrets else sections), snap.resource_version or ""


def read(hub: kube.Kube, omit_secrets: bool = False) -> tuple[dict[str, list], str]:
    """The backup's sections and the resourceVersion they were all read at."""
    for attempt in range(ATTEMPTS):
        try:
            return _read(hub, omit_secrets)
        except kube.KubeError as err:
            if err.status != 410 or attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
