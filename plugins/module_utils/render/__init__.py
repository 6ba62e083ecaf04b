# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering: a hub source object + a placement decision + overrides -> one cluster's manifest.

Engine layer 2 (DESIGN.md section 1): pure functions over plain dicts. No I/O, no
Kubernetes calls, no clocks. Inputs are never mutated: every function works on a
deep copy. module_utils are private to this collection and may change in any
release. The rules are documented for users in docs/concepts/sync.md.

One module per concern; this package re-exports their public names, so callers keep
writing ``render.render_manifest(...)``:

- ``canonical``: canonical JSON, manifest hashes and equality;
- ``images``: image references and the image override's rewrite;
- ``pods``: pod templates and the ConfigMaps/Secrets they reference;
- ``strip``: the fields a hub's API server or controllers wrote;
- ``patches``: JSON pointer/patch (the jsonpatch and jsonpointer libraries) and merge patch;
- ``overrides``: label selectors and per-cluster overrides;
- ``sealing``: a Secret's data sealed to the member's syncer key (X25519, AES-GCM);
- ``policy``: the tenant rules (allowed kinds, protected fields) the admission policies also enforce;
- ``inputs``: checks on a source object and a cluster name;
- ``manifest``: render_manifest;
- ``syncwork``: the SyncWork's name, labels and body.
"""

from __future__ import annotations

from ansible_collections.tmc.multicluster.plugins.module_utils.render.canonical import (
    canonical_json,
    manifest_equal,
    manifest_hash,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.render.images import (
    ImageRef,
    format_image,
    parse_image,
    rewrite_image,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.render.inputs import source_reference
from ansible_collections.tmc.multicluster.plugins.module_utils.render.manifest import render_manifest
from ansible_collections.tmc.multicluster.plugins.module_utils.render.overrides import (
    apply_override,
    override_matches,
    selector_matches,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.render.patches import (
    HAS_JSONPATCH,
    JSONPATCH_IMPORT_ERROR,
    apply_json_patch,
    apply_merge_patch,
    format_pointer,
    json_equal,
    parse_pointer,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.render.pods import dependencies
from ansible_collections.tmc.multicluster.plugins.module_utils.render.policy import (
    ALLOWED_KINDS_KEY,
    DEFAULT_ALLOWED_KINDS,
    POLICY_CONFIGMAP,
    PROTECTED_FIELDS,
    RESERVED_NAMESPACES,
    TenantPolicy,
    check_target,
    kind_key,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.render.sealing import (
    KeyPair,
    SealingError,
    seal_manifest,
    sensitive_fields,
    unseal_manifest,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.render.strip import (
    ANNOTATION_LAST_APPLIED,
    ANNOTATION_PRESERVE_NODE_PORTS,
    JOB_CONTROLLER_UID_LABELS,
    JOB_NAME_LABELS,
    SERVER_SET_ANNOTATIONS,
    SERVER_SET_METADATA,
    strip_server_fields,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.render.syncwork import (
    ANNOTATION_MANIFEST_HASH,
    DELETION_POLICIES,
    LABEL_SOURCE_KIND,
    LABEL_SOURCE_NAME,
    LABEL_SOURCE_NAMESPACE,
    LABEL_SOURCE_UID,
    build_syncwork,
    comparable_spec,
    label_value,
    syncwork_name,
    untrusted_reason,
    work_hash,
)

__all__ = [
    "ALLOWED_KINDS_KEY",
    "DEFAULT_ALLOWED_KINDS",
    "POLICY_CONFIGMAP",
    "PROTECTED_FIELDS",
    "RESERVED_NAMESPACES",
    "check_target",
    "TenantPolicy",
    "kind_key",
    "untrusted_reason",
    "KeyPair",
    "SealingError",
    "comparable_spec",
    "seal_manifest",
    "sensitive_fields",
    "unseal_manifest",
    "work_hash",
    "ANNOTATION_LAST_APPLIED",
    "ANNOTATION_MANIFEST_HASH",
    "ANNOTATION_PRESERVE_NODE_PORTS",
    "DELETION_POLICIES",
    "HAS_JSONPATCH",
    "JOB_CONTROLLER_UID_LABELS",
    "JOB_NAME_LABELS",
    "JSONPATCH_IMPORT_ERROR",
    "LABEL_SOURCE_KIND",
    "LABEL_SOURCE_NAME",
    "LABEL_SOURCE_NAMESPACE",
    "LABEL_SOURCE_UID",
    "SERVER_SET_ANNOTATIONS",
    "SERVER_SET_METADATA",
    "ImageRef",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_override",
    "build_syncwork",
    "canonical_json",
    "dependencies",
    "format_image",
    "format_pointer",
    "json_equal",
    "label_value",
    "manifest_equal",
    "manifest_hash",
    "override_matches",
    "parse_image",
    "parse_pointer",
    "render_manifest",
    "rewrite_image",
    "selector_matches",
    "source_reference",
    "strip_server_fields",
    "syncwork_name",
]
