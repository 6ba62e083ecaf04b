# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant rules (DESIGN.md section 2, docs/concepts/security.md), as the engine enforces them.

The hub role ships the same rules as ValidatingAdmissionPolicies (roles/hub/files/policies.yaml),
evaluated by the API server before an object is stored. The controller and the modules check
them again here, so that a hub without the policies (or an object stored before them) still
holds: defence in depth, one rule written twice, each tested by an attack.

- A WorkloadPlacement places only the kinds on the platform admin's allow-list (the ConfigMap
  ``tmc-system/tmc-policy``, key ``allowedKinds``; default ``DEFAULT_ALLOWED_KINDS``).
- No override changes a manifest's identity or the fields that grant rights: RBAC subjects,
  roleRef, rules and aggregationRule, and a Secret's type (``PROTECTED_FIELDS``).
- No rendered object is a service-account token Secret: the member's token controller would
  fill it with a token of that cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api

#: The ConfigMap in tmc-system that holds the platform admin's settings (the admission policies'
#: parameter object too), and its key listing the kinds tenants may place.
POLICY_CONFIGMAP = "tmc-policy"
ALLOWED_KINDS_KEY = "allowedKinds"
DEFAULT_ALLOWED_KINDS = frozenset(api.DEFAULT_RESOURCES)

#: Fields no override may change, as paths from the top of the manifest. The first four are the
#: object's identity; the rest grant rights on the member (RBAC) or make a Secret a token.
PROTECTED_FIELDS = (
    ("apiVersion",),
    ("kind",),
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("subjects",),
    ("roleRef",),
    ("rules",),
    ("aggregationRule",),
    ("type",),
)
SERVICE_ACCOUNT_TOKEN_TYPE = "kubernetes.io/service-account-token"
#: Member namespaces no SyncWork ever writes to, whatever its source namespace is called.
RESERVED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", api.SYSTEM_NAMESPACE})


def kind_key(group: str, kind: str) -> str:
    """How the allow-list writes a kind: ``apps/Deployment``, or ``Service`` for the core group."""
    return f"{group}/{kind}" if group else kind


def parse_kind_key(text: str) -> tuple[str, str]:
    group, _slash, kind = text.strip().rpartition("/")
    return group, kind


@dataclass(frozen=True)
class TenantPolicy:
    """What the platform admin allows tenants to place."""

    allowed_kinds: frozenset = DEFAULT_ALLOWED_KINDS

    @classmethod
    def from_configmap(cls, configmap: Mapping | None) -> TenantPolicy:
        """The policy a ``tmc-policy`` ConfigMap sets; the defaults when there is none (or no key)."""
        text = ((configmap or {}).get("data") or {}).get(ALLOWED_KINDS_KEY)
        if text is None:
            return cls()
        kinds = {parse_kind_key(item) for item in str(text).replace("\n", ",").split(",") if item.strip()}
        return cls(frozenset(kinds))

    def allows(self, group: str, kind: str) -> bool:
        return (group or "", kind) in self.allowed_kinds

    def describe(self) -> str:
        return ", ".join(sorted(kind_key(g, k) for g, k in self.allowed_kinds)) or "(none)"

    def check_resources(self, resources: Iterable[tuple[str, str]], field: str = "spec.resources") -> None:
        """Raise api.SpecError naming ``<field>[i]`` for the first kind the allow-list does not hold."""
        for index, (group, kind) in enumerate(resources):
            if not self.allows(group, kind):
                raise api.SpecError(
                    f"{field}[{index}]",
                    f"{kind_key(group, kind)} is not a kind tenants may place; the platform admin allows "
                    f"{self.describe()} (ConfigMap {api.SYSTEM_NAMESPACE}/{POLICY_CONFIGMAP}, key {ALLOWED_KINDS_KEY})",
                )


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


_MISSING = object()


def check_override_result(before: Mapping, after: Mapping, field: str) -> None:
    """Raise api.SpecError when an override changed a protected field (``PROTECTED_FIELDS``)."""
    for path in PROTECTED_FIELDS:
        if _at(before, path) != _at(after, path):
            raise api.SpecError(
                field,
                f"must not change {'.'.join(path)}: an override may not change an object's identity, "
                "RBAC subjects, roleRef or rules, or a Secret's type",
            )


def check_rendered(manifest: Mapping) -> None:
    """Raise api.SpecError for a rendered object that would hand out a service-account token."""
    if manifest.get("kind") != "Secret" or manifest.get("apiVersion") != "v1":
        return
    if manifest.get("type") == SERVICE_ACCOUNT_TOKEN_TYPE:
        raise api.SpecError(
            "source",
            "a service-account token Secret is not placed: the member's token controller would fill it "
            "with a token of that cluster",
        )


def check_target(work: Mapping) -> None:
    """Raise api.SpecError when a SyncWork's object would be written where no tenant's may: outside
    its source's namespace, or in a reserved namespace (``RESERVED_NAMESPACES``). The syncer checks
    this before it applies anything; the admission policy tmc-syncwork-location holds the first."""
    spec = work.get("spec") or {}
    manifest = spec.get("manifest") or {}
    namespace = (manifest.get("metadata") or {}).get("namespace") or ""
    source = (spec.get("source") or {}).get("namespace") or ""
    if not namespace or namespace != source:
        raise api.SpecError(
            "spec.manifest.metadata.namespace",
            f"{namespace or '(none)'} is not the namespace of spec.source ({source or 'none'}): not applied",
        )
    if namespace in RESERVED_NAMESPACES:
        raise api.SpecError("spec.manifest.metadata.namespace", f"{namespace} is reserved: TMC never writes there")
