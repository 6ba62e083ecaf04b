# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""render_manifest: a hub source object + a replica share + overrides -> one cluster's manifest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds
from ansible_collections.tmc.multicluster.plugins.module_utils.render import inputs, policy, strip
from ansible_collections.tmc.multicluster.plugins.module_utils.render.overrides import apply_override, override_matches


def _set_replicas(manifest: dict, replicas: Any) -> None:
    """The replica count a Divided decision sets: at the kind's replica path (``kinds``), or at
    ``spec.replicas`` of a kind that has one there."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise api.SpecError("replicas", f"{replicas!r} is not a replica count (an integer >= 0)")
    known = kinds.spec_for(manifest.get("kind"), manifest.get("apiVersion"))
    if known is not None and known.replicas:
        path = known.replicas
    elif isinstance(manifest.get("spec"), dict) and "replicas" in manifest["spec"]:
        path = ("spec", "replicas")
    else:
        return  # a kind without a replica count
    parent = manifest
    for key in path[:-1]:
        if not isinstance(parent.get(key), dict):
            parent[key] = {}
        parent = parent[key]
    parent[path[-1]] = replicas


def _drop_replicas(manifest: dict) -> None:
    known = kinds.spec_for(manifest.get("kind"), manifest.get("apiVersion"))
    path = known.replicas if known is not None and known.replicas else ("spec", "replicas")
    parent = kinds.dig(manifest, path[:-1])
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def render_manifest(
    source: Mapping,
    cluster: str,
    replicas: int | None = None,
    overrides: Iterable[Mapping] | None = (),
    cluster_labels: Mapping[str, str] | None = None,
    retain_replicas: bool = False,
) -> dict:
    """The manifest to apply on one member cluster.

    1. strip_server_fields(source);
    2. spec.replicas = replicas, when given and the kind has a replica count (Divided);
    3. every override matching the cluster, in list order (see apply_override); errors
       name ``spec.overrides[i]...``;
    4. labels tmc.kcp.io/managed=true, tmc.kcp.io/cluster=<cluster> and annotation
       tmc.kcp.io/source=<ns>/<name>/<uid> (last, so no override can remove them);
    5. policy.check_rendered: a service-account token Secret is refused.

    ``retain_replicas``: the member owns the replica count (an autoscaler there scales the
    workload, or the placement says so): the manifest carries none, whatever the share or an
    override says, so applying it never changes the member's count.
    """
    inputs.check_source(source)
    inputs.check_cluster(cluster)
    manifest = strip.strip_server_fields(source)
    if replicas is not None and not retain_replicas:
        _set_replicas(manifest, replicas)
    overrides = () if overrides is None else overrides
    if isinstance(overrides, Mapping) or not isinstance(overrides, Iterable):
        raise api.SpecError("spec.overrides", "must be a list")
    for index, override in enumerate(overrides):
        field = f"spec.overrides[{index}]"
        if override_matches(override, cluster, cluster_labels, field):
            manifest = apply_override(manifest, override, field)
    if retain_replicas:
        _drop_replicas(manifest)
    meta = manifest["metadata"]
    for key in ("labels", "annotations"):
        if meta.get(key) is None:
            meta[key] = {}
        elif not isinstance(meta[key], dict):
            raise api.SpecError(f"metadata.{key}", "must be a map of strings")
    meta["labels"][api.LABEL_MANAGED] = "true"
    meta["labels"][api.LABEL_CLUSTER] = cluster
    meta["annotations"][api.ANNOTATION_SOURCE] = inputs.source_reference(source)
    policy.check_rendered(manifest)
    return manifest
