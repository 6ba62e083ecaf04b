# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overrides: per-cluster changes to a rendered manifest (image, merge patch, JSON patch).

Also the label selector semantics that decide which clusters an override applies to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.render import canonical, images, patches, pods, policy


def selector_matches(selector: Any, labels: Mapping[str, str] | None, field: str = "clusterSelector") -> bool:
    """Kubernetes LabelSelector semantics (matchLabels AND matchExpressions); {} matches all.

    A malformed selector raises api.SpecError naming ``field``.
    """
    labels = labels or {}
    if not isinstance(selector, Mapping):
        raise api.SpecError(field, "must be a label selector (matchLabels, matchExpressions)")
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise api.SpecError(f"{field}.matchLabels", "must be a map of label keys to values")
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, (list, tuple)):
        raise api.SpecError(f"{field}.matchExpressions", "must be a list")
    for index, expr in enumerate(expressions):
        where = f"{field}.matchExpressions[{index}]"
        if not isinstance(expr, Mapping) or not isinstance(expr.get("key"), str):
            raise api.SpecError(where, "needs a key and an operator")
        key, operator, values = expr["key"], expr.get("operator"), expr.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                raise api.SpecError(f"{where}.values", f"must not be empty for operator {operator}")
            if operator == "In" and labels.get(key) not in values:
                return False
            if operator == "NotIn" and key in labels and labels[key] in values:
                return False
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                raise api.SpecError(f"{where}.values", f"must be empty for operator {operator}")
            if (key in labels) != (operator == "Exists"):
                return False
        else:
            raise api.SpecError(f"{where}.operator", f"{operator!r} is not In, NotIn, Exists or DoesNotExist")
    return True


def override_matches(override: Mapping, cluster: str, cluster_labels: Mapping[str, str] | None, field: str) -> bool:
    """Whether an override entry applies to this cluster.

    ``clusters`` (names) and ``clusterSelector`` both narrow: with both, the cluster must
    be named and match. With neither (or an empty ``clusters`` list and no selector) the
    override applies to every cluster, like ``clusterSelector: {}`` (the CRD refuses an
    override with neither; the engine is lenient for callers that build specs in code).
    """
    if not isinstance(override, Mapping):
        raise api.SpecError(field, "must be an object")
    names = override.get("clusters")
    if names:
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise api.SpecError(f"{field}.clusters", "must be a list of cluster names")
        if cluster not in names:
            return False
    selector = override.get("clusterSelector")
    return selector is None or selector_matches(selector, cluster_labels, f"{field}.clusterSelector")


def _valid_registry_override(registry: str) -> bool:
    host, _slash, path = registry.partition("/")
    path_ok = not path or all(images.PATH_COMPONENT_RE.match(p) for p in path.split("/"))
    return bool(images.HOST_RE.match(host)) and path_ok


def _override_image(manifest: dict, image: Any, field: str) -> None:
    if not isinstance(image, Mapping):
        raise api.SpecError(field, "must be an object with registry, repository and/or tag")
    parts = {}
    for key in ("registry", "repository", "tag"):
        value = image.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            raise api.SpecError(f"{field}.{key}", "must be a string")
        parts[key] = value
    if not parts:
        raise api.SpecError(field, "set at least one of registry, repository, tag")
    if "registry" in parts and not _valid_registry_override(parts["registry"]):
        raise api.SpecError(f"{field}.registry", f"{parts['registry']!r} is not a host[:port][/path]")
    if "repository" in parts:
        try:
            images.check_repository(parts["repository"], parts["repository"])
        except ValueError as exc:
            raise api.SpecError(f"{field}.repository", str(exc)) from None
    if "tag" in parts and not images.TAG_RE.match(parts["tag"]):
        raise api.SpecError(f"{field}.tag", f"{parts['tag']!r} is not a valid tag")
    for spec in pods.pod_specs(manifest):
        for container in pods.containers(spec):
            if "image" not in container:
                continue
            try:
                container["image"] = images.rewrite_image(container["image"], **parts)
            except ValueError as exc:
                raise api.SpecError(field, f"container {container.get('name')!r}: {exc}") from None


def apply_override(manifest: Mapping, override: Mapping, field: str = "spec.overrides[0]") -> dict:
    """Apply one override entry (image, then mergePatch, then jsonPatch) to a copy of manifest.

    Does not check whether the override matches a cluster (see override_matches). An
    override may change anything but the fields of ``policy.PROTECTED_FIELDS``: the object's
    identity (apiVersion, kind, metadata.name, metadata.namespace), RBAC subjects, roleRef,
    rules and aggregationRule, and a Secret's type.
    """
    if not isinstance(override, Mapping):
        raise api.SpecError(field, "must be an object")
    result = canonical.plain(manifest)
    if override.get("image") is not None:
        _override_image(result, override["image"], f"{field}.image")
    if override.get("mergePatch") is not None:
        if not isinstance(override["mergePatch"], Mapping):
            raise api.SpecError(f"{field}.mergePatch", "must be an object")
        result = patches.apply_merge_patch(result, override["mergePatch"])
    if override.get("jsonPatch") is not None:
        result = patches.apply_json_patch(result, override["jsonPatch"], f"{field}.jsonPatch")
    if not isinstance(result, dict) or not isinstance(result.get("metadata"), dict):
        raise api.SpecError(field, "the result must still be an object with metadata")
    policy.check_override_result(manifest, result, field)
    return result
