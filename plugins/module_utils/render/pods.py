# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod templates: where an object keeps its pod specs and which ConfigMaps and Secrets they use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import kinds
from ansible_collections.tmc.multicluster.plugins.module_utils.render import canonical


def pod_specs(obj: Any) -> list[dict]:
    """The pod specs inside an object: where its kind keeps one (``kinds.KindSpec.pod_spec``: a Pod's
    spec, a CronJob's job template), else spec.template."""
    if not isinstance(obj, dict):
        return []
    known = kinds.spec_for(obj.get("kind"))
    path = known.pod_spec if known is not None and known.pod_spec else ("spec", "template", "spec")
    spec = canonical.dig(obj, *path)
    return [spec] if isinstance(spec, dict) else []


def containers(pod_spec: dict, kinds: Iterable[str] = ("initContainers", "containers")) -> list[dict]:
    found = []
    for key in kinds:
        items = pod_spec.get(key)
        if isinstance(items, list):
            found.extend(c for c in items if isinstance(c, dict))
    return found


def dependencies(source: Mapping) -> set[tuple[str, str]]:
    """The ConfigMaps and Secrets a pod template references, as {("ConfigMap"|"Secret", name)}.

    Looks at volumes (configMap, secret, projected sources), env valueFrom
    configMapKeyRef/secretKeyRef, envFrom and imagePullSecrets of every container,
    init container and ephemeral container. Optional references are included: the
    caller skips the ones that do not exist. Objects without a pod template give an
    empty set.
    """
    found: set[tuple[str, str]] = set()

    def add(kind: str, name: Any) -> None:
        if isinstance(name, str) and name:
            found.add((kind, name))

    for spec in pod_specs(canonical.plain(source)):
        for volume in spec.get("volumes") or []:
            if not isinstance(volume, dict):
                continue
            add("ConfigMap", canonical.dig(volume, "configMap", "name"))
            add("Secret", canonical.dig(volume, "secret", "secretName"))
            for item in canonical.dig(volume, "projected", "sources") or []:
                add("ConfigMap", canonical.dig(item, "configMap", "name"))
                add("Secret", canonical.dig(item, "secret", "name"))
        for container in containers(spec, ("initContainers", "containers", "ephemeralContainers")):
            for env in container.get("env") or []:
                add("ConfigMap", canonical.dig(env, "valueFrom", "configMapKeyRef", "name"))
                add("Secret", canonical.dig(env, "valueFrom", "secretKeyRef", "name"))
            for env_from in container.get("envFrom") or []:
                add("ConfigMap", canonical.dig(env_from, "configMapRef", "name"))
                add("Secret", canonical.dig(env_from, "secretRef", "name"))
        for ref in spec.get("imagePullSecrets") or []:
            add("Secret", canonical.dig(ref, "name"))
    return found
