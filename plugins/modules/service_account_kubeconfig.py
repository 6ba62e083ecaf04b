#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: service_account_kubeconfig
short_description: Write a kubeconfig that acts as one ServiceAccount, for a daemon's least-privilege identity
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Gives a TMC daemon run as a local process (the C(controller) and C(syncer) roles' process runtime) the identity
    the roles made for it (a ServiceAccount and its RBAC), instead of an admin kubeconfig.
  - Makes a long-lived token Secret (C(<service_account>-token), type C(kubernetes.io/service-account-token)) for
    the ServiceAccount when it has none, waits for the token, and writes a kubeconfig with it to O(dest) with mode
    0600, atomically, never following a link planted at the path.
  - The token is never part of the module's result or log.
  - To revoke it, delete the token Secret; the next run makes a new one.
options:
  namespace:
    description: Namespace of the ServiceAccount.
    type: str
    required: true
  service_account:
    description: Name of the ServiceAccount, which must exist.
    type: str
    required: true
  dest:
    description: Where to write the kubeconfig (mode 0600).
    type: path
    required: true
  server:
    description: The API server URL to put in the kubeconfig. Defaults to the URL this module reached it at.
    type: str
  context_namespace:
    description: The namespace of the kubeconfig's context.
    type: str
  timeout:
    description: Seconds to wait for the token controller to fill the token Secret.
    type: int
    default: 30
extends_documentation_fragment:
  - tmc.multicluster.hub_auth
attributes:
  check_mode:
    support: full
    description: >-
      Reports what would be created and written; nothing is. A ServiceAccount that does not exist yet is taken to
      be created by an earlier task (a warning says so; a real run fails without it).
  diff_mode:
    description: Can run in diff mode.
    support: none
  idempotent:
    support: full
    description: A second run with the same token writes nothing and reports no change.
"""

EXAMPLES = r"""
- name: The syncer of member1 runs as its member ServiceAccount (process runtime)
  tmc.multicluster.service_account_kubeconfig:
    kubeconfig: ~/.kube/member1.kubeconfig
    namespace: tmc-system
    service_account: tmc-syncer-member1
    dest: ~/.tmc/tmc-syncer-member1-member.kubeconfig
"""

RETURN = r"""
path:
  description: Where the kubeconfig is.
  returned: always
  type: str
token_secret:
  description: The token Secret, as C(namespace/name).
  returned: always
  type: str
"""

import json

from ansible_collections.tmc.multicluster.plugins.module_utils import kubeconfig
from ansible_collections.tmc.multicluster.plugins.module_utils.args import argspec
from ansible_collections.tmc.multicluster.plugins.module_utils.module import TMCModule
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import identities

ARGSPEC = argspec(
    namespace={"type": "str", "required": True},
    service_account={"type": "str", "required": True},
    dest={"type": "path", "required": True},
    server={"type": "str"},
    context_namespace={"type": "str"},
    timeout={"type": "int", "default": 30},
)


def run(m: TMCModule) -> dict:
    p = m.params
    client = m.hub()
    result = {
        "path": p["dest"],
        "token_secret": f"{p['namespace']}/{identities.token_secret_name(p['service_account'])}",
    }
    try:
        created = identities.ensure_token_secret(client, p["namespace"], p["service_account"], m.check_mode)
    except identities.MissingInCheckMode as missing:
        m.module.warn(str(missing))
        return {**result, "changed": True}
    result["changed"] = created
    if created and m.check_mode:
        return result
    config = identities.kubeconfig_for(
        client, p["namespace"], p["service_account"], p["server"], p["context_namespace"], p["timeout"]
    )
    if kubeconfig.write_private_file(p["dest"], json.dumps(config, indent=2), m.check_mode):
        result["changed"] = True
    return result


def main() -> None:
    TMCModule(ARGSPEC).run(run)


if __name__ == "__main__":
    main()
