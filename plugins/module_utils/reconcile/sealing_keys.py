# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a member's sealing keys live, and how their public half reaches the hub.

Layer 4 of the engine; private to this collection. The private keys never leave the member's
side (docs/concepts/security.md, "How Secrets travel"):

- a pull-mode syncer keeps them in a file (mode 0600, written by ``kubeconfig.write_private_file``)
  or, in the kubernetes runtime, in a Secret of its own namespace on the member;
- a push-mode registration keeps them in its credentials Secret in ``tmc-system`` on the hub, beside
  the member credentials that whoever applies for it (workload_sync) already holds.

The newest key's public half is published on the ClusterRegistration as ``status.sealing``
(``keyID``, ``publicKey``, ``rotation``); the controller seals to it. A rotation (spec field
``sealingKeyRotation``, set by ``cluster_registration rotate_sealing_key``) makes a new key and
keeps the previous one (``KEEP``) so that SyncWorks sealed before it still open until the controller
has sealed them again.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube, kubeconfig, render

KEEP = 2  # the newest key and the one before it
SECRET_KEY = "sealing"  # the data key that holds the key ring (syncer Secret and push credentials Secret)
FIELD_MANAGER = "tmc-sealing"


def rotated(keys: list[render.KeyPair]) -> list[render.KeyPair]:
    """A new key first, the newest of the old ones after it."""
    return [render.KeyPair.generate(), *keys][:KEEP]


def encode(keys: list[render.KeyPair]) -> str:
    return json.dumps(render.sealing.keyring_document(keys), sort_keys=True)


def decode(text: str | bytes | None) -> list[render.KeyPair] | None:
    if not text:
        return None
    try:
        return render.sealing.keyring_from(json.loads(text))
    except (ValueError, KeyError, TypeError, render.SealingError):
        return None


# ------------------------------------------------------------------ stores


def load_file(path: str) -> list[render.KeyPair] | None:
    try:
        return decode(kubeconfig.read_file(path, "sealing key file"))
    except kubeconfig.ConfigError:
        return None


def save_file(path: str, keys: list[render.KeyPair]) -> None:
    kubeconfig.write_private_file(path, encode(keys))


def secret_object(namespace: str, name: str, keys: list[render.KeyPair]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "tmc"}},
        "data": {SECRET_KEY: base64.b64encode(encode(keys).encode()).decode()},
    }


def from_secret(secret: Mapping | None) -> list[render.KeyPair] | None:
    data = ((secret or {}).get("data") or {}).get(SECRET_KEY)
    return decode(base64.b64decode(data)) if data else None


def load_secret(client: kube.Kube, namespace: str, name: str) -> list[render.KeyPair] | None:
    return from_secret(client.get("v1", "Secret", name, namespace))


def save_secret(client: kube.Kube, namespace: str, name: str, keys: list[render.KeyPair]) -> None:
    client.apply(secret_object(namespace, name, keys), FIELD_MANAGER)


class KeyStore:
    """One syncer's key ring: in a file, or in a Secret on its member."""

    def __init__(self, path: str | None = None, member: kube.Kube | None = None, secret: str | None = None):
        self.path, self.member = path, member
        self.secret_namespace, _slash, self.secret_name = (secret or "").partition("/")

    @property
    def configured(self) -> bool:
        return bool(self.path or self.secret_name)

    def load(self) -> list[render.KeyPair] | None:
        if self.path:
            return load_file(self.path)
        return load_secret(self.member, self.secret_namespace, self.secret_name)

    def save(self, keys: list[render.KeyPair]) -> None:
        if self.path:
            save_file(self.path, keys)
        else:
            save_secret(self.member, self.secret_namespace, self.secret_name, keys)

    def load_or_create(self) -> list[render.KeyPair]:
        keys = self.load()
        if not keys:
            keys = [render.KeyPair.generate()]
            self.save(keys)
        return keys


# ------------------------------------------------------------------ the hub side


def published(registration: Mapping | None) -> dict:
    return dict(((registration or {}).get("status") or {}).get("sealing") or {})


def wanted_rotation(registration: Mapping | None) -> str:
    return str(((registration or {}).get("spec") or {}).get("sealingKeyRotation") or "")


def sealing_status(keys: list[render.KeyPair], rotation: str) -> dict:
    return {"keyID": keys[0].id, "publicKey": keys[0].public, "rotation": rotation}


def publish(hub: kube.Kube, cluster: str, keys: list[render.KeyPair], rotation: str, manager: str) -> None:
    """The newest key's public half on the cluster's registration (status.sealing)."""
    hub.apply(
        {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND_CLUSTER,
            "metadata": {"name": cluster},
            "status": {"sealing": sealing_status(keys, rotation)},
        },
        manager,
        subresource="status",
    )


def keep_published(
    hub: kube.Kube, cluster: str, store: KeyStore, keys: list[render.KeyPair], manager: str
) -> list[render.KeyPair]:
    """Rotate when the registration asks for it, and publish the newest key when the hub does not show
    it (first start, after a rotation, or after another writer put an older status back)."""
    registration = hub.get(api.API_VERSION, api.KIND_CLUSTER, cluster)
    if registration is None:
        return keys
    rotation, shown = wanted_rotation(registration), published(registration)
    if rotation and rotation != shown.get("rotation"):
        keys = rotated(keys)
        store.save(keys)
    if shown != sealing_status(keys, rotation):
        publish(hub, cluster, keys, rotation, manager)
    return keys
