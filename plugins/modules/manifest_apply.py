#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: manifest_apply
short_description: Apply or remove Kubernetes objects on the hub with server-side apply
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Applies a list of Kubernetes objects to the hub (or any cluster the auth options name) with server-side apply,
    in order, or deletes them in reverse order.
  - The roles of this collection install TMC's CRDs, namespaces and RBAC with it; it needs no other collection.
  - A server-side dry run predicts every change, so check mode and diff mode show what a real run would do.
  - The values of a Secret's C(data) and C(stringData) never appear in what the module returns (diffs and its
    own arguments in C(invocation)); key names do, and a diff marks each value as unchanged, old or new.
    The values are still passed to the module, so keep them in Ansible Vault or a lookup.
options:
  definitions:
    description:
      - The objects, each a complete dictionary with C(apiVersion), C(kind) and C(metadata.name).
      - Objects of a kind defined by a CRD earlier in the list are applied after that CRD is established.
    type: list
    elements: dict
    required: true
  state:
    description:
      - V(present) applies the objects; V(absent) deletes them (in reverse order).
    type: str
    choices: [present, absent]
    default: present
  field_manager:
    description: The field manager name recorded for server-side apply.
    type: str
    default: tmc-multicluster
  wait:
    description:
      - Wait until CRDs are Established and Namespaces Active (V(present)), or until the objects are gone (V(absent)).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each object when O(wait=true).
    type: int
    default: 120
extends_documentation_fragment:
  - tmc.multicluster.hub_auth
attributes:
  check_mode:
    support: full
    description: Uses server-side dry run.
  diff_mode:
    support: full
    description: Returns each changed object before and after; Secret values are hidden.
  idempotent:
    support: full
    description: A repeated run with the same options reports no change.
"""

EXAMPLES = r"""
- name: Install a ConfigMap and a Namespace on the hub
  tmc.multicluster.manifest_apply:
    kubeconfig: ~/.kube/hub.kubeconfig
    definitions:
      - apiVersion: v1
        kind: Namespace
        metadata:
          name: team-a
      - apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          namespace: team-a
        data:
          color: blue

- name: A web app on the hub, ready to be placed (kubeconfig from $KUBECONFIG or ~/.kube/config)
  tmc.multicluster.manifest_apply:
    definitions:
      - apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
      - apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
          labels:
            app: web
        spec:
          replicas: 4
          selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              containers:
                - name: web
                  image: registry.example/web:1.0
      - apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: shop
          labels:
            app: web
        spec:
          selector:
            app: web
          ports:
            - port: 80
              targetPort: 8080

# A file of several YAML documents next to the playbook:
#   definitions: "{{ lookup('ansible.builtin.file', 'app.yaml') | ansible.builtin.from_yaml_all | list }}"
"""

RETURN = r"""
results:
  description: One entry per object, in the order handled.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The object's kind.
      type: str
      sample: CustomResourceDefinition
    name:
      description: The object's name.
      type: str
      sample: clusterregistrations.tmc.kcp.io
    namespace:
      description: The object's namespace, or null.
      type: str
    changed:
      description: Whether this object was (or in check mode would be) changed.
      type: bool
    diff:
      description:
        - Before and after, when diff mode is on.
        - The values of a Secret's C(data) and C(stringData) read V(VALUE_HIDDEN (unchanged)) on both sides,
          or V(VALUE_HIDDEN (old value)) before and V(VALUE_HIDDEN (new value)) after a change.
      type: dict
      returned: diff mode
diff:
  description:
    - One before/after pair per changed object, with a header naming the object, for C(ansible-playbook --diff).
    - Secret values are hidden as in RV(results[].diff).
  returned: diff mode
  type: list
  elements: dict
"""

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube, redact
from ansible_collections.tmc.multicluster.plugins.module_utils.args import argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule

ARGSPEC = argspec(
    definitions={"type": "list", "elements": "dict", "required": True},
    state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    field_manager={"type": "str", "default": "tmc-multicluster"},
    wait={"type": "bool", "default": True},
    wait_timeout={"type": "int", "default": 120},
)


def _check_definition(index: int, obj: dict) -> None:
    for field in ("apiVersion", "kind"):
        if not obj.get(field):
            raise api.SpecError(f"definitions[{index}].{field}", "is required")
    if not obj.get("metadata", {}).get("name"):
        raise api.SpecError(f"definitions[{index}].metadata.name", "is required")


def _namespace_pending(err: kube.KubeError, obj: dict, pending: set) -> bool:
    """In check mode a namespace that this run would create does not exist yet."""
    return err.status == 404 and err.details.get("kind") == "namespaces" and obj["metadata"].get("namespace") in pending


def _handle(k: kube.Kube, obj: dict, m: TMCModule, pending: set) -> kube.Change:
    params = m.params
    try:
        if params["state"] == "present":
            change = kube.ensure_applied(k, obj, params["field_manager"], m.check_mode)
        else:
            change = kube.ensure_absent(k, obj, m.check_mode)
    except kube.KubeError as err:
        if m.check_mode and params["state"] == "present" and _namespace_pending(err, obj, pending):
            return kube.Change(True, None, obj)
        if err.status != 404 or "does not serve" not in str(err):
            raise
        # A kind whose CRD this run just installed: refresh discovery once.
        # In check mode that CRD was not really installed: report the create.
        k.forget(obj["apiVersion"])
        if params["state"] == "absent":
            return kube.Change(False, None, None)
        if m.check_mode:
            return kube.Change(True, None, obj)
        change = kube.ensure_applied(k, obj, params["field_manager"], m.check_mode)
    if params["wait"] and not m.check_mode:
        if params["state"] == "present":
            kube.wait_ready(k, obj, params["wait_timeout"])
        elif change.changed:
            kube.wait_absent(k, obj, params["wait_timeout"])
    return change


def apply_definitions(m: TMCModule) -> dict:
    definitions = m.params["definitions"]
    for index, obj in enumerate(definitions):
        _check_definition(index, obj)
    ordered = definitions if m.params["state"] == "present" else list(reversed(definitions))
    k = m.hub()
    results = []
    pending: set[str] = set()
    for obj in ordered:
        change = _handle(k, obj, m, pending)
        if obj["kind"] == "Namespace" and change.before is None:
            pending.add(obj["metadata"]["name"])
        entry = {
            "kind": obj["kind"],
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"].get("namespace"),
            "changed": change.changed,
        }
        if m.diff_mode:
            entry["diff"] = _hidden_diff(change)
        results.append(entry)
    outcome = {"changed": any(r["changed"] for r in results), "results": results}
    if m.diff_mode:
        outcome["diff"] = [
            {**r["diff"], "before_header": _header(r), "after_header": _header(r)} for r in results if r["changed"]
        ]
    return outcome


def _hidden_diff(change: kube.Change) -> dict:
    diff = change.diff()
    diff["before"], diff["after"] = redact.redact_diff(diff["before"], diff["after"])
    return diff


def _header(entry: dict) -> str:
    where = f"{entry['namespace']}/" if entry["namespace"] else ""
    return f"{entry['kind']} {where}{entry['name']}"


def main() -> None:
    TMCModule(ARGSPEC, redact_args=redact.redact_definitions).run(apply_definitions)


if __name__ == "__main__":
    main()
