# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``cordon``, ``uncordon`` and ``drain`` of a member cluster: the ClusterRegistration's spec, written with
server-side apply under a field manager of their own (the registration module's fields stay its own).

- cordon: ``spec.unschedulable: true``: nothing new is placed there; what runs stays.
- drain: cordon, and the taint ``tmc.kcp.io/draining:NoExecute``: the controller moves every workload that
  does not tolerate it to other clusters (failover rules: the new copy first, the old one once it is
  available).
- uncordon: both undone.

``what-if --drain`` applies ``drained`` to a copy of the registration: the same change, decided offline.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.cli.output import Result

FIELD_MANAGER = "tmc-cli"
TAINT_DRAINING = f"{api.GROUP}/draining"


def drained(registration: Mapping) -> dict:
    """A copy of ``registration`` as ``drain`` leaves it."""
    changed = copy.deepcopy(dict(registration))
    spec = changed.setdefault("spec", {})
    spec["unschedulable"] = True
    taints = [t for t in spec.get("taints") or [] if t.get("key") != TAINT_DRAINING]
    spec["taints"] = [*taints, {"key": TAINT_DRAINING, "effect": "NoExecute"}]
    return changed


def _registration(hub: kube.Kube, name: str) -> dict:
    found = hub.get(api.API_VERSION, api.KIND_CLUSTER, name)
    if found is None:
        raise api.SpecError("cluster", f"no ClusterRegistration {name!r} on the hub (kubectl tmc clusters lists them)")
    return found


def _apply(hub: kube.Kube, name: str, unschedulable: bool, draining: bool, dry_run: bool) -> dict:
    """Our fields of the registration's spec: ``unschedulable`` and our taint (other taints are the
    owner's, kept by server-side apply because this manager never owned them)."""
    spec: dict = {"unschedulable": unschedulable}
    spec["taints"] = [{"key": TAINT_DRAINING, "effect": "NoExecute"}] if draining else []
    body = {"apiVersion": api.API_VERSION, "kind": api.KIND_CLUSTER, "metadata": {"name": name}, "spec": spec}
    return hub.apply(body, FIELD_MANAGER, force=True, dry_run=dry_run)


def set_state(hub: kube.Kube, name: str, verb: str, dry_run: bool = False) -> Result:
    before = _registration(hub, name)
    spec_before = before.get("spec") or {}
    was = {
        "unschedulable": bool(spec_before.get("unschedulable")),
        "draining": any(t.get("key") == TAINT_DRAINING for t in spec_before.get("taints") or []),
    }
    wanted = {
        "cordon": {"unschedulable": True, "draining": was["draining"]},
        "drain": {"unschedulable": True, "draining": True},
        "uncordon": {"unschedulable": False, "draining": False},
    }[verb]
    changed = wanted != was
    if changed:
        _apply(hub, name, wanted["unschedulable"], wanted["draining"], dry_run)
    data = {"cluster": name, "changed": changed, "dry_run": dry_run, **wanted}
    past = {"cordon": "cordoned", "drain": "drained", "uncordon": "uncordoned"}[verb]
    line = f"cluster {name} {past}" if changed else f"cluster {name} already {past}"
    return Result(data, notes=[line + (" (dry run)" if dry_run and changed else "")])
