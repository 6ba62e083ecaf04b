#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hub_restore
short_description: Restore a hub backup onto an empty hub without disturbing the members
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Reads a backup written by M(tmc.multicluster.hub_backup) and creates on the hub, where missing, the TMC API
    pieces the hub lacks, the namespaces, the C(ClusterRegistration)s (with their sealing public keys), the source
    objects (Secrets decrypted with O(secret_key_file)) and the C(WorkloadPlacement)s. Nothing the hub already has
    is overwritten.
  - Before a placement is restored, what the backup's C(SyncWork)s would do to each member is compared with what
    the member runs now (a server-side dry run of the syncer's own apply). A placement whose restore would create,
    change or leave behind anything on a member - the backup is older than the last change that reached the
    members - is B(held) (not restored, and returned in RV(held) with its definition and the reasons), so that
    nothing on a member moves until a person re-applies the current placement. A member that cannot be checked
    holds every placement that had work on it.
  - The restored sources have new UIDs; the controller adopts what runs on the members (the syncer only updates
    the C(tmc.kcp.io/source) annotation), so nothing is re-created, deleted or restarted.
  - It does not issue syncer identities; run M(tmc.multicluster.cluster_registration) for each returned
    registration (playbooks/restore.yml does), then the syncer and controller roles.
options:
  src:
    description: A backup file, or a directory whose newest backup is used.
    type: path
    required: true
  secret_key_file:
    description: The key file the backup was taken with (required when the backup holds encrypted Secrets).
    type: path
  member_kubeconfigs:
    description:
      - Kubeconfig file per member cluster name, used to compare the backup with what each member runs
        (read and dry-run only; nothing on a member is written).
      - A registered cluster not listed here, or not answering, holds every placement that had work on it.
    type: dict
    default: {}
  restore_placements:
    description:
      - V(false) restores everything but the placements (and judges none). Restore the placements in a second run,
        once every syncer is connected again, so that the controller decides with every cluster Ready and
        nothing moves between members in the meantime (playbooks/restore.yml does so).
    type: bool
    default: true
  check_members:
    description:
      - V(false) restores every placement without looking at the members. Only for a backup you know is current,
        an older backup then reverts the members to it.
    type: bool
    default: true
extends_documentation_fragment:
  - tmc.multicluster.hub_auth
attributes:
  check_mode:
    support: full
    description: Server-side dry run of every create; the held placements are judged all the same.
  diff_mode:
    support: none
    description: Objects are created whole, not diffed.
  idempotent:
    support: full
    description: A second run finds everything restored and creates nothing.
seealso:
  - module: tmc.multicluster.hub_backup
  - name: Disaster recovery
    description: docs/operations/disaster-recovery.md in this collection.
    link: https://github.com/jessesanford/tmc.multicluster/blob/main/docs/operations/disaster-recovery.md
"""

EXAMPLES = r"""
- name: Restore the newest backup onto the new hub
  tmc.multicluster.hub_restore:
    kubeconfig: ~/.kube/new-hub.kubeconfig
    src: ~/tmc-backups
    secret_key_file: ~/.tmc/backup.key
    member_kubeconfigs:
      member1: ~/.kube/member1.kubeconfig
      member2: ~/.kube/member2.kubeconfig
  register: tmc_restore

- name: Say which placements wait for a person
  ansible.builtin.debug:
    msg: "{{ item.namespace }}/{{ item.name }}: {{ item.reasons | join('; ') }}"
  loop: "{{ tmc_restore.held }}"
"""

RETURN = r"""
backup:
  description: The backup restored (path, taken_at, resource_version).
  type: dict
  returned: always
counts:
  description: Per section, objects created and objects the hub already had (placements also count held).
  type: dict
  returned: always
held:
  description: Placements not restored, each with namespace, name, reasons and definition (to re-apply).
  type: list
  elements: dict
  returned: always
placements_restored:
  description: The placements restored (namespace, name).
  type: list
  elements: dict
  returned: always
unknown_on_members:
  description: Objects TMC placed on members that the backup knows nothing of (made after it); left as they are.
  type: list
  elements: str
  returned: always
registrations:
  description:
    - The restored registrations, as options of M(tmc.multicluster.cluster_registration) (name, labels, location,
      sync_mode, taints, unschedulable, capacity, namespace_selector, endpoint), to issue new syncer identities.
  type: list
  elements: dict
  returned: always
"""

from ansible_collections.tmc.multicluster.plugins.module_utils import kube
from ansible_collections.tmc.multicluster.plugins.module_utils.args import argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule
from ansible_collections.tmc.multicluster.plugins.module_utils.recovery import document, files, restore

ARGSPEC = argspec(
    src={"type": "path", "required": True},
    secret_key_file={"type": "path"},
    member_kubeconfigs={"type": "dict", "default": {}},
    check_members={"type": "bool", "default": True},
    restore_placements={"type": "bool", "default": True},
)

# ClusterRegistration spec field -> cluster_registration option.
REGISTRATION_OPTIONS = {
    "location": "location",
    "syncMode": "sync_mode",
    "taints": "taints",
    "unschedulable": "unschedulable",
    "capacity": "capacity",
    "namespaceSelector": "namespace_selector",
    "endpoint": "endpoint",
}


def _box(path: str | None, doc: dict) -> document.SecretBox | None:
    salt = document.salt_of(doc)
    if not path or salt is None:
        return None
    try:
        with open(path, "rb") as source:
            return document.SecretBox(source.read(), salt)
    except OSError as err:
        raise document.BackupError(f"secret_key_file: cannot read {path}: {err.strerror}") from err


def _member(path: str, timeout: float) -> kube.Kube | None:
    try:
        member = kube.client_for(kube.ClientConfig.from_params({"kubeconfig": path, "request_timeout": timeout}))
        member.version()
        return member
    except (kube.KubeError, OSError, ValueError):
        return None


def registration_options(registration: dict) -> dict:
    spec = registration.get("spec") or {}
    options = {"name": registration["metadata"]["name"], "labels": registration["metadata"].get("labels") or {}}
    options.update({option: spec[field] for field, option in REGISTRATION_OPTIONS.items() if field in spec})
    return options


def run(m: TMCModule) -> dict:
    p = m.params
    path = files.resolve(p["src"])
    doc = files.read(path)
    sections = document.decrypted(doc, _box(p["secret_key_file"], doc))
    if p["check_members"] and p["restore_placements"]:
        members = {
            r["metadata"]["name"]: _member(p["member_kubeconfigs"][r["metadata"]["name"]], p["request_timeout"])
            if r["metadata"]["name"] in p["member_kubeconfigs"]
            else None
            for r in sections["registrations"]
        }
        verdict = restore.judge(sections, members)
    else:
        verdict = {"held": {}, "unknown": []}
    counts = restore.write(m.hub(), sections, set(verdict["held"]), m.check_mode, p["restore_placements"])
    definitions = {(x["metadata"]["namespace"], x["metadata"]["name"]): x for x in sections["placements"]}
    held = [
        {"namespace": ns, "name": name, "reasons": reasons, "definition": definitions.get((ns, name))}
        for (ns, name), reasons in sorted(verdict["held"].items())
        if (ns, name) in definitions
    ]
    restored = sorted(definitions) if p["restore_placements"] else []
    return {
        "changed": any(c["created"] for c in counts.values()),
        "backup": {"path": str(path), "taken_at": doc.get("takenAt"), "resource_version": doc.get("resourceVersion")},
        "counts": counts,
        "held": held,
        "unknown_on_members": verdict["unknown"],
        "placements_restored": [
            {"namespace": ns, "name": name} for (ns, name) in restored if (ns, name) not in verdict["held"]
        ],
        "registrations": [registration_options(r) for r in sections["registrations"]],
    }


def main() -> None:
    TMCModule(ARGSPEC).run(run)


if __name__ == "__main__":
    main()
