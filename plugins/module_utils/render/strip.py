# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stripping: the fields a hub's API server or controllers wrote, never meaningful on a member.

docs/concepts/sync.md ("What rendering removes") documents every rule for users.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds
from ansible_collections.tmc.multicluster.plugins.module_utils.render import canonical, pods

#: Source annotation: "true" keeps a NodePort/LoadBalancer Service's nodePort and
#: healthCheckNodePort values in the rendered manifest.
ANNOTATION_PRESERVE_NODE_PORTS = f"{api.GROUP}/preserve-node-ports"

ANNOTATION_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Metadata the API server (or a controller) writes; never meaningful on another cluster.
SERVER_SET_METADATA = (
    "uid",
    "resourceVersion",
    "managedFields",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
)
# Annotations written by clients or controllers rather than by the user.
SERVER_SET_ANNOTATIONS = (
    ANNOTATION_LAST_APPLIED,
    "deployment.kubernetes.io/revision",
)
# Labels the Job controller (or the API server's Job strategy) adds to a Job's pod template.
JOB_CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")


def _strip_service(manifest: dict) -> None:
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        return
    headless = spec.get("clusterIP") == "None"
    if not headless:
        # The hub allocated these from its own service range; each member allocates its own.
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    # The hub defaults ipFamilies to its own families; a member may be IPv6-only or dual-stack.
    spec.pop("ipFamilies", None)
    policy = spec.get("ipFamilyPolicy")
    hub_defaulted_dual = policy == "RequireDualStack" and headless and not spec.get("selector")
    if policy == "SingleStack" or hub_defaulted_dual:
        spec.pop("ipFamilyPolicy", None)
    annotations = canonical.dig(manifest, "metadata", "annotations") or {}
    preserve = (
        spec.get("type") in ("NodePort", "LoadBalancer")
        and str(annotations.get(ANNOTATION_PRESERVE_NODE_PORTS, "")).lower() == "true"
    )
    if not preserve:
        spec.pop("healthCheckNodePort", None)
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.pop("nodePort", None)


def _strip_job(manifest: dict) -> None:
    spec = manifest.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    # Without manualSelector the API server generates the selector and these labels from
    # the Job's uid; the member generates its own, and rejects a template with the hub's.
    spec.pop("selector", None)
    job_name = canonical.dig(manifest, "metadata", "name")
    # The Job's own labels too: read back, a Job without labels of its own shows its template's
    # (Job defaulting), generated ones included.
    for meta in (canonical.dig(spec, "template", "metadata"), manifest.get("metadata")):
        _drop_job_identity(meta, job_name)


def _drop_job_identity(meta: Any, job_name: Any) -> None:
    labels = canonical.dig(meta, "labels")
    if not isinstance(labels, dict):
        return
    for key in JOB_CONTROLLER_UID_LABELS:
        labels.pop(key, None)
    for key in JOB_NAME_LABELS:
        if labels.get(key) == job_name:
            labels.pop(key)
    if not labels:
        del meta["labels"]


def _is_service_account_volume(volume: Any) -> bool:
    if not isinstance(volume, dict) or not str(volume.get("name", "")).startswith("kube-api-access-"):
        return False
    sources = canonical.dig(volume, "projected", "sources") or []
    return any(isinstance(s, dict) and "serviceAccountToken" in s for s in sources)


def _strip_pod(manifest: dict) -> None:
    spec = manifest.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("volumes"), list):
        return
    # The ServiceAccount admission plugin added this token volume on the hub; the member's
    # admission adds its own, and two mounts at the same path are refused.
    names = {v["name"] for v in spec["volumes"] if _is_service_account_volume(v)}
    if not names:
        return
    spec["volumes"] = [v for v in spec["volumes"] if not (isinstance(v, dict) and v.get("name") in names)]
    if not spec["volumes"]:
        del spec["volumes"]
    for container in pods.containers(spec, ("initContainers", "containers", "ephemeralContainers")):
        mounts = container.get("volumeMounts")
        if isinstance(mounts, list):
            container["volumeMounts"] = [m for m in mounts if not (isinstance(m, dict) and m.get("name") in names)]
            if not container["volumeMounts"]:
                del container["volumeMounts"]


def _strip_templates(manifest: dict) -> None:
    # kubectl and client libraries write "creationTimestamp: null" into embedded templates.
    spec = manifest.get("spec")
    metas = [
        canonical.dig(spec, "template", "metadata"),
        canonical.dig(spec, "jobTemplate", "metadata"),
        canonical.dig(spec, "jobTemplate", "spec", "template", "metadata"),
    ]
    claims = canonical.dig(spec, "volumeClaimTemplates")
    if isinstance(claims, list):
        for claim in claims:
            if isinstance(claim, dict):
                claim.pop("status", None)
                metas.append(claim.get("metadata"))
    for meta in metas:
        if isinstance(meta, dict):
            meta.pop("creationTimestamp", None)


# The rules particular to some kinds, by the names ``kinds.KindSpec.strip`` gives them.
RULES = {"service": _strip_service, "job-identity": _strip_job, "pod-token-volume": _strip_pod}


def strip_server_fields(source: Mapping) -> dict:
    """A copy of the source without the fields its API server or controllers wrote.

    See docs/concepts/sync.md ("What rendering removes") for every rule.
    """
    manifest = canonical.plain(source)
    manifest.pop("status", None)
    meta = manifest.get("metadata")
    if isinstance(meta, dict):
        for key in SERVER_SET_METADATA:
            meta.pop(key, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            for key in SERVER_SET_ANNOTATIONS:
                annotations.pop(key, None)
    _strip_templates(manifest)
    known = kinds.spec_for(manifest.get("kind"), manifest.get("apiVersion"))
    for rule in known.strip if known is not None else ():
        RULES[rule](manifest)
    return manifest
