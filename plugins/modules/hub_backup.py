#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hub_backup
short_description: Back up everything TMC needs to rebuild its hub, into one file
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Reads the hub at one resourceVersion (one instant) and writes one JSON file into O(dest) holding the TMC API
    (its CRDs, admission policies and ClusterRoles), the C(ClusterRegistration)s (with their sealing public keys),
    the namespaces that hold C(WorkloadPlacement)s, the placements, the source objects of the kinds they place
    in those namespaces (with ConfigMaps, Secrets and HorizontalPodAutoscalers there), and the C(SyncWork)s (what
    the hub had sent to each member, which M(tmc.multicluster.hub_restore) compares it with the members).
  - Never a credential. Syncer tokens and push-mode member credentials are not read at all (a restore issues new
    ones). A Secret's C(data) and C(stringData) are encrypted (AES-256-GCM, key derived with scrypt) with the key in
    O(secret_key_file); without that key a hub holding Secrets is not backed up, unless O(secrets=omit).
  - The file is written with mode 0600 (its directory 0700) and appears whole or not at all. When the hub holds
    what the newest backup already holds, no file is written (C(changed=false)). O(retention) old files are kept.
options:
  dest:
    description: The directory of the backup files (created 0700 when missing).
    type: path
    required: true
  secret_key_file:
    description:
      - A file only you hold with at least 16 bytes of key material (for example C(openssl rand -base64 32)).
        Secret payloads in the backup are encrypted with a key derived from it; M(tmc.multicluster.hub_restore)
        needs the same file. It may be an Ansible Vault-encrypted file copied out at run time.
    type: path
  secrets:
    description:
      - V(encrypt) keeps Secrets, their payloads encrypted (O(secret_key_file) required when the hub has any).
      - V(omit) leaves Secrets out of the backup; a restore then brings back no Secret, and the members keep theirs.
    type: str
    choices: [encrypt, omit]
    default: encrypt
  retention:
    description: How many backup files to keep in O(dest); older ones are deleted after a new one is written.
    type: int
    default: 60
  force:
    description: Write a new file even when the hub holds what the newest backup holds.
    type: bool
    default: false
extends_documentation_fragment:
  - tmc.multicluster.hub_auth
attributes:
  check_mode:
    support: full
    description: Reads the hub and reports what would be written; writes and deletes no file.
  diff_mode:
    support: none
    description: A backup file is not diffed.
  idempotent:
    support: full
    description: A run over an unchanged hub writes nothing and reports no change.
seealso:
  - module: tmc.multicluster.hub_restore
  - name: Backup and restore
    description: docs/operations/backup-restore.md in this collection.
    link: https://github.com/jessesanford/tmc.multicluster/blob/main/docs/operations/backup-restore.md
"""

EXAMPLES = r"""
- name: Back up the hub every time this runs (a timer runs it every minute)
  tmc.multicluster.hub_backup:
    kubeconfig: ~/.kube/hub.kubeconfig
    dest: ~/tmc-backups
    secret_key_file: ~/.tmc/backup.key
    retention: 1440
  register: tmc_backup
"""

RETURN = r"""
path:
  description: The newest backup file (the one written now, or the unchanged newest).
  type: str
  returned: always
written:
  description: Whether a new file was written (false when the hub was unchanged, or in check mode).
  type: bool
  returned: always
taken_at:
  description: When the hub was read (UTC, ISO 8601). With an unchanged hub, the newest file is as good as new.
  type: str
  returned: always
resource_version:
  description: The hub resourceVersion every object was read at.
  type: str
  returned: always
digest:
  description: SHA-256 of what the backup holds (Secret payloads enter only through a keyed digest).
  type: str
  returned: always
counts:
  description: Objects per section (api, namespaces, registrations, placements, sources, syncworks).
  type: dict
  returned: always
size_bytes:
  description: Size of the backup file.
  type: int
  returned: always
pruned:
  description: Names of the old backup files deleted by retention.
  type: list
  elements: str
  returned: always
"""

import datetime as dt
import os

from ansible_collections.tmc.multicluster.plugins.module_utils.args import argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule
from ansible_collections.tmc.multicluster.plugins.module_utils.recovery import document, files, snapshot

ARGSPEC = argspec(
    dest={"type": "path", "required": True},
    secret_key_file={"type": "path"},
    secrets={"type": "str", "choices": ["encrypt", "omit"], "default": "encrypt"},
    retention={"type": "int", "default": 60},
    force={"type": "bool", "default": False},
)


def key_box(path: str | None, salt: bytes | None) -> document.SecretBox | None:
    if not path:
        return None
    try:
        with open(path, "rb") as source:
            material = source.read()
    except OSError as err:
        raise document.BackupError(f"secret_key_file: cannot read {path}: {err.strerror}") from err
    return document.SecretBox(material, salt if salt is not None else os.urandom(16))


def run(m: TMCModule) -> dict:
    p = m.params
    if p["retention"] < 1:
        raise document.BackupError("retention: keep at least 1 backup")
    now = dt.datetime.now(dt.UTC)
    hub = m.hub()
    sections, resource_version = snapshot.read(hub, omit_secrets=p["secrets"] == "omit")
    box = key_box(p["secret_key_file"], None)
    doc = document.build(
        sections,
        resource_version,
        now.isoformat(),
        hub.host,
        box,
        iter(lambda: os.urandom(12), None),
    )
    newest = files.latest(p["dest"])
    unchanged = newest is not None and not p["force"] and files.read(newest).get("digest") == doc["digest"]
    result = {
        "taken_at": doc["takenAt"],
        "resource_version": resource_version,
        "digest": doc["digest"],
        "counts": doc["counts"],
        "pruned": [],
    }
    if unchanged or m.check_mode:
        path = str(newest) if newest else os.path.join(p["dest"], files.file_name(now.strftime("%Y%m%dT%H%M%S.%fZ")))
        size = os.path.getsize(newest) if newest else 0
        return {**result, "changed": not unchanged, "written": False, "path": path, "size_bytes": size}
    path = files.write(p["dest"], files.file_name(now.strftime("%Y%m%dT%H%M%S.%fZ")), doc)
    result["pruned"] = files.prune(p["dest"], p["retention"])
    return {**result, "changed": True, "written": True, "path": str(path), "size_bytes": path.stat().st_size}


def main() -> None:
    TMCModule(ARGSPEC).run(run)


if __name__ == "__main__":
    main()
