# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering: a hub source object + a placement decision + overrides -> one cluster's manifest.

Engine layer 2 (DESIGN.md section 1): pure functions over plain dicts. No I/O, no
Kubernetes calls, no clocks. Inputs are never mutated: every function works on a
deep copy. module_utils are private to this collection and may change in any
release. The rules are documented for users in docs/concepts/sync.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ansible_collections.tmc.multicluster.plugins.module_utils import api

# --------------------------------------------------------------------------
# Names this module adds to the API (candidates to move into api.py)

#: SyncWork label: the source object's namespace (a DNS label, always a valid label value).
LABEL_SOURCE_NAMESPACE = f"{api.GROUP}/source-namespace"
#: SyncWork label: the source object's name, through label_value().
LABEL_SOURCE_NAME = f"{api.GROUP}/source-name"
#: SyncWork label: the source object's kind, through label_value().
LABEL_SOURCE_KIND = f"{api.GROUP}/source-kind"
#: SyncWork label: the source object's uid (exact lookups and garbage collection).
LABEL_SOURCE_UID = f"{api.GROUP}/source-uid"
#: SyncWork annotation: manifest_hash() of spec.manifest, for cheap change detection.
ANNOTATION_MANIFEST_HASH = f"{api.GROUP}/manifest-hash"
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

DELETION_POLICIES = ("Delete", "Orphan")

# Kinds whose spec.replicas is the replica count a Divided decision sets.
_REPLICA_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
# API groups whose kinds never share a name with each other: their SyncWork names need no hash.
_PLAIN_GROUPS = frozenset({"", "apps", "batch", "networking.k8s.io", "policy", "autoscaling"})
_DOCKER_HUB = frozenset({"", "docker.io", "index.docker.io", "registry-1.docker.io"})

_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_HASH_LEN = 10


def _digest(text: str, length: int = _HASH_LEN) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _plain(value: Any) -> Any:
    """A deep copy made of dicts and lists only (mappings and tuples become dicts and lists)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return copy.deepcopy(value)


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


# --------------------------------------------------------------------------
# Canonical form, hashing, equality


def _canonical(value: Any, path: str = "") -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise api.SpecError(path or "manifest", f"{value!r} is not a JSON number")
        # 2.0 and 2 are the same JSON number; a round trip through an API server may turn one into the other.
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise api.SpecError(path or "manifest", f"a value of type {type(value).__name__} cannot be part of a manifest")


def canonical_json(manifest: Any) -> str:
    """The manifest as compact JSON with sorted keys; integral floats written as integers."""
    return json.dumps(_canonical(manifest), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def manifest_hash(manifest: Any) -> str:
    """A stable hex SHA-256 of the manifest's canonical JSON (key order and 2.0 vs 2 do not matter)."""
    return hashlib.sha256(canonical_json(manifest).encode("utf-8")).hexdigest()


def manifest_equal(a: Any, b: Any) -> bool:
    """True when both manifests have the same canonical JSON."""
    return canonical_json(a) == canonical_json(b)


# --------------------------------------------------------------------------
# Image references


class ImageRef(NamedTuple):
    """A parsed container image reference.

    registry is "" when the reference names none (Docker Hub implied); tag and digest
    are "" when absent. repository is the path as written ("nginx", not "library/nginx").
    """

    registry: str
    repository: str
    tag: str
    digest: str

    def __str__(self) -> str:
        return format_image(self)


_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_HOST_RE = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
    r"(?::[0-9]+)?$"
)


def _is_registry(component: str) -> bool:
    # The Docker reference grammar: the first path component is a registry host when it
    # looks like one (a dot, a port, "localhost") or has capitals, which a repository cannot.
    return "." in component or ":" in component or component == "localhost" or component != component.lower()


def _check_repository(repository: str, image: str) -> None:
    if not repository:
        raise ValueError(f"image {image!r} has no repository name")
    for part in repository.split("/"):
        if not _PATH_COMPONENT_RE.match(part):
            raise ValueError(
                f"image {image!r}: repository component {part!r} must be lowercase letters and digits "
                "separated by '.', '_', '__' or '-'"
            )


def parse_image(image: str) -> ImageRef:
    """Parse ``[registry/]repository[:tag][@digest]``; raise ValueError when it is not one."""
    if not isinstance(image, str) or not image or image != image.strip():
        raise ValueError(f"image {image!r} is not an image reference")
    name, at, digest = image.partition("@")
    if at and not _DIGEST_RE.match(digest):
        raise ValueError(f"image {image!r}: digest {digest!r} is not algorithm:hex")
    tag = ""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise ValueError(f"image {image!r}: tag {tag!r} is not a valid tag")
    registry, slash, rest = name.partition("/")
    if slash and _is_registry(registry):
        if not _HOST_RE.match(registry):
            raise ValueError(f"image {image!r}: registry {registry!r} is not a host[:port]")
        repository = rest
    else:
        registry, repository = "", name
    _check_repository(repository, image)
    return ImageRef(registry, repository, tag, digest)


def format_image(ref: ImageRef) -> str:
    text = f"{ref.registry}/{ref.repository}" if ref.registry else ref.repository
    if ref.tag:
        text += f":{ref.tag}"
    if ref.digest:
        text += f"@{ref.digest}"
    return text


def rewrite_image(
    image: str, registry: str | None = None, repository: str | None = None, tag: str | None = None
) -> str:
    """Apply an image override to one reference; None or "" leaves that part as it is.

    - registry replaces the host; it may carry a path prefix ("harbor.example.com/hub-proxy").
      A Docker Hub official image ("nginx", "docker.io/nginx") moved to another registry
      becomes "<registry>/library/nginx", the path Docker Hub serves it under and mirrors
      expect. An image already under the registry (prefix) is left as it is.
    - repository replaces the whole path.
    - tag sets the tag and drops a digest: a digest pins the content, so a new tag beside
      it would have no effect.
    An unchanged reference is returned exactly as written.
    """
    ref = parse_image(image)
    new_registry, new_repository, new_tag, new_digest = ref
    if registry:
        path = f"{ref.registry}/{ref.repository}" if ref.registry else ref.repository
        if path.startswith(registry + "/"):
            # Already there (e.g. rendered before): keep, so rewriting is idempotent.
            new_registry, new_repository = registry, path[len(registry) + 1 :]
        else:
            new_registry = registry
            if ref.registry in _DOCKER_HUB and "/" not in ref.repository and registry not in _DOCKER_HUB:
                new_repository = "library/" + ref.repository
    if repository:
        new_repository = repository
    if tag:
        new_tag, new_digest = tag, ""
    new = ImageRef(new_registry, new_repository, new_tag, new_digest)
    return image if new == ref else format_image(new)


# --------------------------------------------------------------------------
# Pod templates


def _pod_specs(obj: Any) -> list[dict]:
    """The pod specs inside an object: a Pod's spec, a CronJob's job template, or spec.template."""
    if not isinstance(obj, dict):
        return []
    kind = obj.get("kind")
    if kind == "Pod":
        spec = obj.get("spec")
    elif kind == "CronJob":
        spec = _dig(obj, "spec", "jobTemplate", "spec", "template", "spec")
    else:
        spec = _dig(obj, "spec", "template", "spec")
    return [spec] if isinstance(spec, dict) else []


def _containers(pod_spec: dict, kinds: Iterable[str] = ("initContainers", "containers")) -> list[dict]:
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

    for spec in _pod_specs(_plain(source)):
        for volume in spec.get("volumes") or []:
            if not isinstance(volume, dict):
                continue
            add("ConfigMap", _dig(volume, "configMap", "name"))
            add("Secret", _dig(volume, "secret", "secretName"))
            for item in _dig(volume, "projected", "sources") or []:
                add("ConfigMap", _dig(item, "configMap", "name"))
                add("Secret", _dig(item, "secret", "name"))
        for container in _containers(spec, ("initContainers", "containers", "ephemeralContainers")):
            for env in container.get("env") or []:
                add("ConfigMap", _dig(env, "valueFrom", "configMapKeyRef", "name"))
                add("Secret", _dig(env, "valueFrom", "secretKeyRef", "name"))
            for env_from in container.get("envFrom") or []:
                add("ConfigMap", _dig(env_from, "configMapRef", "name"))
                add("Secret", _dig(env_from, "secretRef", "name"))
        for ref in spec.get("imagePullSecrets") or []:
            add("Secret", _dig(ref, "name"))
    return found


# --------------------------------------------------------------------------
# Stripping server-set fields


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
    annotations = _dig(manifest, "metadata", "annotations") or {}
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
    template_meta = _dig(spec, "template", "metadata")
    labels = _dig(template_meta, "labels")
    if not isinstance(labels, dict):
        return
    job_name = _dig(manifest, "metadata", "name")
    for key in JOB_CONTROLLER_UID_LABELS:
        labels.pop(key, None)
    for key in JOB_NAME_LABELS:
        if labels.get(key) == job_name:
            labels.pop(key)
    if not labels:
        del template_meta["labels"]


def _is_service_account_volume(volume: Any) -> bool:
    if not isinstance(volume, dict) or not str(volume.get("name", "")).startswith("kube-api-access-"):
        return False
    sources = _dig(volume, "projected", "sources") or []
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
    for container in _containers(spec, ("initContainers", "containers", "ephemeralContainers")):
        mounts = container.get("volumeMounts")
        if isinstance(mounts, list):
            container["volumeMounts"] = [m for m in mounts if not (isinstance(m, dict) and m.get("name") in names)]
            if not container["volumeMounts"]:
                del container["volumeMounts"]


def _strip_templates(manifest: dict) -> None:
    # kubectl and client libraries write "creationTimestamp: null" into embedded templates.
    spec = manifest.get("spec")
    metas = [
        _dig(spec, "template", "metadata"),
        _dig(spec, "jobTemplate", "metadata"),
        _dig(spec, "jobTemplate", "spec", "template", "metadata"),
    ]
    claims = _dig(spec, "volumeClaimTemplates")
    if isinstance(claims, list):
        for claim in claims:
            if isinstance(claim, dict):
                claim.pop("status", None)
                metas.append(claim.get("metadata"))
    for meta in metas:
        if isinstance(meta, dict):
            meta.pop("creationTimestamp", None)


def strip_server_fields(source: Mapping) -> dict:
    """A copy of the source without the fields its API server or controllers wrote.

    See docs/concepts/sync.md ("What rendering removes") for every rule.
    """
    manifest = _plain(source)
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
    kind = manifest.get("kind")
    if kind == "Service":
        _strip_service(manifest)
    elif kind == "Job":
        _strip_job(manifest)
    elif kind == "Pod":
        _strip_pod(manifest)
    return manifest


# --------------------------------------------------------------------------
# JSON Pointer (RFC 6901) and JSON Patch (RFC 6902)


class _PatchError(Exception):
    pass


_ARRAY_INDEX_RE = re.compile(r"^(0|[1-9][0-9]*)$")
_BAD_ESCAPE_RE = re.compile(r"~(?![01])")


def parse_pointer(pointer: str) -> list[str]:
    """Split a JSON pointer into reference tokens, undoing ~1 (/) and ~0 (~)."""
    if not isinstance(pointer, str):
        raise ValueError(f"JSON pointer {pointer!r} must be a string")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        if _BAD_ESCAPE_RE.search(token):
            raise ValueError(f"JSON pointer {pointer!r}: '~' must be followed by 0 or 1")
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def format_pointer(tokens: Iterable[str]) -> str:
    """The JSON pointer of the tokens, escaping ~ as ~0 and / as ~1."""
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _array_index(token: str, length: int, pointer: str, allow_end: bool) -> int:
    if token == "-":
        if allow_end:
            return length
        raise _PatchError(f"path {pointer!r}: '-' (the end of the array) can only be the target of add")
    if not _ARRAY_INDEX_RE.match(token):
        raise _PatchError(f"path {pointer!r}: {token!r} is not an array index")
    index = int(token)
    if index > length or (index == length and not allow_end):
        raise _PatchError(f"path {pointer!r}: index {index} is out of range (array length {length})")
    return index


def _resolve(doc: Any, tokens: list[str], pointer: str) -> Any:
    node = doc
    for depth, token in enumerate(tokens):
        where = format_pointer(tokens[: depth + 1])
        if isinstance(node, dict):
            if token not in node:
                raise _PatchError(f"path {pointer!r}: {where!r} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_array_index(token, len(node), pointer, allow_end=False)]
        else:
            raise _PatchError(f"path {pointer!r}: {where!r} does not exist (its parent is not an object or array)")
    return node


def _add(doc: Any, tokens: list[str], value: Any, pointer: str) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1], pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_array_index(last, len(parent), pointer, allow_end=True), value)
    else:
        raise _PatchError(f"path {pointer!r}: the parent is not an object or array")
    return doc


def _remove(doc: Any, tokens: list[str], pointer: str) -> tuple[Any, Any]:
    if not tokens:
        raise _PatchError("path '': the whole manifest cannot be removed")
    parent = _resolve(doc, tokens[:-1], pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchError(f"path {pointer!r} does not exist")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_array_index(last, len(parent), pointer, allow_end=False))
    raise _PatchError(f"path {pointer!r}: the parent is not an object or array")


def _replace(doc: Any, tokens: list[str], value: Any, pointer: str) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1], pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchError(f"path {pointer!r} does not exist")
        parent[last] = value
    elif isinstance(parent, list):
        parent[_array_index(last, len(parent), pointer, allow_end=False)] = value
    else:
        raise _PatchError(f"path {pointer!r}: the parent is not an object or array")
    return doc


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: true is not 1, 1 equals 1.0, objects compare without order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


_PATCH_OPS = ("add", "remove", "replace", "move", "copy", "test")


def _pointer_arg(op: Mapping, key: str) -> tuple[str, list[str]]:
    if key not in op:
        raise _PatchError(f"{op.get('op')!r} needs {key!r}")
    try:
        return op[key], parse_pointer(op[key])
    except ValueError as exc:
        raise _PatchError(f"{key}: {exc}") from None


def _apply_op(doc: Any, op: Any) -> Any:
    if not isinstance(op, Mapping):
        raise _PatchError("an operation must be an object with 'op' and 'path'")
    name = op.get("op")
    if name not in _PATCH_OPS:
        raise _PatchError(f"op {name!r} is not one of {', '.join(_PATCH_OPS)}")
    pointer, tokens = _pointer_arg(op, "path")
    if name in ("add", "replace", "test") and "value" not in op:
        raise _PatchError(f"{name!r} needs 'value'")
    if name == "add":
        return _add(doc, tokens, _plain(op["value"]), pointer)
    if name == "remove":
        return _remove(doc, tokens, pointer)[0]
    if name == "replace":
        return _replace(doc, tokens, _plain(op["value"]), pointer)
    if name == "test":
        actual = _resolve(doc, tokens, pointer)
        if not json_equal(actual, op["value"]):
            raise _PatchError(
                f"test failed: {pointer!r} is {json.dumps(actual, default=str)[:200]}, "
                f"not {json.dumps(op['value'], default=str)[:200]}"
            )
        return doc
    from_pointer, from_tokens = _pointer_arg(op, "from")
    if name == "copy":
        return _add(doc, tokens, copy.deepcopy(_resolve(doc, from_tokens, from_pointer)), pointer)
    # move
    if tokens[: len(from_tokens)] == from_tokens and len(tokens) > len(from_tokens):
        raise _PatchError(f"cannot move {from_pointer!r} into its own child {pointer!r}")
    if tokens == from_tokens:
        _resolve(doc, from_tokens, from_pointer)
        return doc
    doc, value = _remove(doc, from_tokens, from_pointer)
    return _add(doc, tokens, value, pointer)


def apply_json_patch(doc: Any, operations: Any, field: str = "jsonPatch") -> Any:
    """Apply RFC 6902 operations to a copy of doc and return it.

    Errors are api.SpecError naming ``<field>[<index>]`` of the operation at fault; the
    input is never changed, even when an operation in the middle fails.
    """
    if not isinstance(operations, (list, tuple)):
        raise api.SpecError(field, "must be a list of operations")
    result = _plain(doc)
    for index, op in enumerate(operations):
        try:
            result = _apply_op(result, op)
        except _PatchError as exc:
            raise api.SpecError(f"{field}[{index}]", str(exc)) from None
    return result


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, on copies: null removes a key, objects merge, the rest replaces."""
    if not isinstance(patch, Mapping):
        return _plain(patch)
    result = _plain(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------
# Label selectors


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


# --------------------------------------------------------------------------
# Overrides


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
    return bool(_HOST_RE.match(host)) and (not path or all(_PATH_COMPONENT_RE.match(p) for p in path.split("/")))


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
            _check_repository(parts["repository"], parts["repository"])
        except ValueError as exc:
            raise api.SpecError(f"{field}.repository", str(exc)) from None
    if "tag" in parts and not _TAG_RE.match(parts["tag"]):
        raise api.SpecError(f"{field}.tag", f"{parts['tag']!r} is not a valid tag")
    for spec in _pod_specs(manifest):
        for container in _containers(spec):
            if "image" not in container:
                continue
            try:
                container["image"] = rewrite_image(container["image"], **parts)
            except ValueError as exc:
                raise api.SpecError(field, f"container {container.get('name')!r}: {exc}") from None


def _identity(manifest: Any) -> tuple:
    meta = manifest.get("metadata") if isinstance(manifest, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    kind = manifest.get("kind") if isinstance(manifest, dict) else None
    api_version = manifest.get("apiVersion") if isinstance(manifest, dict) else None
    return (api_version, kind, meta.get("name"), meta.get("namespace"))


def apply_override(manifest: Mapping, override: Mapping, field: str = "spec.overrides[0]") -> dict:
    """Apply one override entry (image, then mergePatch, then jsonPatch) to a copy of manifest.

    Does not check whether the override matches a cluster (see override_matches). An
    override may change anything but the object's identity: apiVersion, kind,
    metadata.name and metadata.namespace.
    """
    if not isinstance(override, Mapping):
        raise api.SpecError(field, "must be an object")
    result = _plain(manifest)
    before = _identity(result)
    if override.get("image") is not None:
        _override_image(result, override["image"], f"{field}.image")
    if override.get("mergePatch") is not None:
        if not isinstance(override["mergePatch"], Mapping):
            raise api.SpecError(f"{field}.mergePatch", "must be an object")
        result = apply_merge_patch(result, override["mergePatch"])
    if override.get("jsonPatch") is not None:
        result = apply_json_patch(result, override["jsonPatch"], f"{field}.jsonPatch")
    if not isinstance(result, dict) or not isinstance(result.get("metadata"), dict):
        raise api.SpecError(field, "the result must still be an object with metadata")
    if _identity(result) != before:
        raise api.SpecError(field, "must not change apiVersion, kind, metadata.name or metadata.namespace")
    return result


# --------------------------------------------------------------------------
# render_manifest


def _check_cluster(cluster: Any) -> None:
    if not isinstance(cluster, str) or len(cluster) > 63 or not _DNS_LABEL_RE.match(cluster):
        raise api.SpecError("cluster", f"{cluster!r} is not a cluster name (a DNS label: a-z, 0-9, '-')")


def _check_source(source: Any) -> None:
    if not isinstance(source, Mapping):
        raise api.SpecError("source", "must be a Kubernetes object")
    if not source.get("kind") or not source.get("apiVersion"):
        raise api.SpecError("source", "needs apiVersion and kind")
    meta = source.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise api.SpecError("source.metadata.name", "is missing")


def _set_replicas(manifest: dict, replicas: Any) -> None:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise api.SpecError("replicas", f"{replicas!r} is not a replica count (an integer >= 0)")
    spec = manifest.get("spec")
    if manifest.get("kind") in _REPLICA_KINDS or (isinstance(spec, dict) and "replicas" in spec):
        if not isinstance(spec, dict):
            spec = manifest["spec"] = {}
        spec["replicas"] = replicas


def source_reference(source: Mapping) -> str:
    """The value of the tmc.kcp.io/source annotation: <namespace>/<name>/<uid>."""
    meta = source.get("metadata") or {}
    return api.source_annotation(meta.get("namespace") or "", meta.get("name") or "", meta.get("uid") or "")


def render_manifest(
    source: Mapping,
    cluster: str,
    replicas: int | None = None,
    overrides: Iterable[Mapping] | None = (),
    cluster_labels: Mapping[str, str] | None = None,
) -> dict:
    """The manifest to apply on one member cluster.

    1. strip_server_fields(source);
    2. spec.replicas = replicas, when given and the kind has a replica count (Divided);
    3. every override matching the cluster, in list order (see apply_override); errors
       name ``spec.overrides[i]...``;
    4. labels tmc.kcp.io/managed=true, tmc.kcp.io/cluster=<cluster> and annotation
       tmc.kcp.io/source=<ns>/<name>/<uid> (last, so no override can remove them).
    """
    _check_source(source)
    _check_cluster(cluster)
    manifest = strip_server_fields(source)
    if replicas is not None:
        _set_replicas(manifest, replicas)
    overrides = () if overrides is None else overrides
    if isinstance(overrides, Mapping) or not isinstance(overrides, Iterable):
        raise api.SpecError("spec.overrides", "must be a list")
    for index, override in enumerate(overrides):
        field = f"spec.overrides[{index}]"
        if override_matches(override, cluster, cluster_labels, field):
            manifest = apply_override(manifest, override, field)
    meta = manifest["metadata"]
    for key in ("labels", "annotations"):
        if meta.get(key) is None:
            meta[key] = {}
        elif not isinstance(meta[key], dict):
            raise api.SpecError(f"metadata.{key}", "must be a map of strings")
    meta["labels"][api.LABEL_MANAGED] = "true"
    meta["labels"][api.LABEL_CLUSTER] = cluster
    meta["annotations"][api.ANNOTATION_SOURCE] = source_reference(source)
    return manifest


# --------------------------------------------------------------------------
# SyncWork


def label_value(text: str) -> str:
    """text when it is a valid label value, else a readable prefix plus a hash (deterministic)."""
    text = str(text)
    if len(text) <= 63 and _LABEL_VALUE_RE.match(text):
        return text
    suffix = _digest(text)
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[: 63 - _HASH_LEN - 1]
    prefix = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", prefix)
    return f"{prefix}-{suffix}" if prefix else suffix


def _subdomain_part(text: str) -> str:
    parts = re.sub(r"[^a-z0-9.-]", "-", text.lower()).split(".")
    return ".".join(p.strip("-") for p in parts if p.strip("-"))


def _group(api_version: Any) -> str:
    return str(api_version).rpartition("/")[0] if api_version else ""


def syncwork_name(source: Mapping, cluster: str) -> str:
    """The SyncWork's name: ``<kind>.<namespace>.<name>`` in lowercase, a DNS subdomain.

    The cluster is checked but is not part of the name: the SyncWork lives in the
    cluster's namespace, so one source has the same SyncWork name in every cluster
    namespace. A hash of the full identity (group, kind, namespace, name) is appended when
    the readable form would lose something: characters replaced, the name cut to 253
    characters, or a kind outside the built-in groups (whose kind alone could collide).
    """
    _check_source(source)
    _check_cluster(cluster)
    meta = source["metadata"]
    kind, namespace, name = str(source["kind"]), meta.get("namespace") or "", meta["name"]
    group = _group(source.get("apiVersion"))
    parts = [kind.lower(), namespace, name] if namespace else [kind.lower(), name]
    clean = [_subdomain_part(p) for p in parts]
    readable = ".".join(c for c in clean if c)
    lossy = clean != parts
    if not lossy and group in _PLAIN_GROUPS and len(readable) <= 253 and _DNS_SUBDOMAIN_RE.match(readable):
        return readable
    suffix = _digest(f"{group}/{kind}/{namespace}/{name}")
    head = readable[: 253 - _HASH_LEN - 1].rstrip("-.")
    return f"{head}-{suffix}" if head else suffix


def build_syncwork(
    source: Mapping,
    cluster: str,
    manifest: Mapping,
    placement_name: str | None,
    deletion_policy: str = "Delete",
) -> dict:
    """The SyncWork object (contract.md) that carries ``manifest`` to ``cluster``.

    Labels make the SyncWorks of a cluster, a placement, a source namespace, a source
    name/kind or a source uid listable with a selector; values that are not valid label
    values go through label_value(). The finalizer is set at creation so that the
    syncer's cleanup can never be skipped.
    """
    _check_source(source)
    _check_cluster(cluster)
    if deletion_policy not in DELETION_POLICIES:
        raise api.SpecError("spec.deletionPolicy", f"{deletion_policy!r} is not Delete or Orphan")
    if not isinstance(manifest, Mapping):
        raise api.SpecError("spec.manifest", "must be an object")
    namespace = api.cluster_namespace(cluster)
    if len(namespace) > 63:
        raise api.SpecError(
            "cluster", f"{cluster!r} is too long: its hub namespace {namespace!r} would exceed 63 characters"
        )
    meta = source["metadata"]
    source_namespace = meta.get("namespace") or ""
    labels = {
        api.LABEL_CLUSTER: cluster,
        LABEL_SOURCE_KIND: label_value(source["kind"]),
        LABEL_SOURCE_NAME: label_value(meta["name"]),
    }
    if source_namespace:
        labels[LABEL_SOURCE_NAMESPACE] = label_value(source_namespace)
    if meta.get("uid"):
        labels[LABEL_SOURCE_UID] = label_value(meta["uid"])
    if placement_name:
        labels[api.LABEL_PLACEMENT] = label_value(placement_name)
    # Empty values are left out: the CRD requires source.namespace to be a DNS label.
    source_ref = {"apiVersion": source["apiVersion"], "kind": source["kind"]}
    if source_namespace:
        source_ref["namespace"] = source_namespace
    source_ref["name"] = meta["name"]
    if meta.get("uid"):
        source_ref["uid"] = meta["uid"]
    if meta.get("generation") is not None:
        source_ref["generation"] = meta["generation"]
    spec: dict[str, Any] = {
        "cluster": cluster,
        "manifest": _plain(manifest),
        "source": source_ref,
        "deletionPolicy": deletion_policy,
    }
    if placement_name:
        spec["placement"] = placement_name
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND_SYNCWORK,
        "metadata": {
            "name": syncwork_name(source, cluster),
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                api.ANNOTATION_SOURCE: source_reference(source),
                ANNOTATION_MANIFEST_HASH: manifest_hash(manifest),
            },
            "finalizers": [api.FINALIZER_SYNCER],
        },
        "spec": spec,
    }
