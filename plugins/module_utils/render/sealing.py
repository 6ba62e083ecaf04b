# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sealing: a Secret's data travels in its SyncWork encrypted to the member's syncer key.

The hub never holds a placed Secret's value in a SyncWork: rendering moves the sensitive fields
of the manifest (``SENSITIVE_FIELDS`` of a kind its KindSpec marks ``sealed``: a Secret's
``data`` and ``stringData``) into
``spec.sealed``, encrypted to the X25519 public key the cluster's syncer published on its
ClusterRegistration (``status.sealing``). Only the syncer, which holds the private key, opens
it, just before it applies the object. docs/concepts/security.md ("How Secrets travel").

The envelope (``ALGORITHM``): an ephemeral X25519 key pair per sealing; the shared secret goes
through HKDF-SHA256 (salt: both public keys; info: ``INFO``) to an AES-256-GCM key; a random
96-bit nonce; the associated data binds the ciphertext to its cluster and object
(``context``), so a sealed block copied into another SyncWork does not open.

Pure functions over dicts and bytes (``cryptography``, no I/O); randomness from the OS.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as err:  # pragma: no cover - exercised only without the library
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = err

ALGORITHM = "X25519-HKDF-SHA256-A256GCM"
INFO = b"tmc.kcp.io/sealed/v1"
#: The top-level fields of a kind its KindSpec marks ``sealed`` (kinds.py) that never travel in clear.
SENSITIVE_FIELDS = ("data", "stringData")
_RAW = serialization.Encoding.Raw if HAS_CRYPTOGRAPHY else None


class SealingError(api.TMCError):
    """A sealed block that cannot be opened (no key for it, or it was changed)."""


def _require() -> None:
    if not HAS_CRYPTOGRAPHY:
        raise SealingError(f"sealing Secrets needs the Python library cryptography: {CRYPTOGRAPHY_IMPORT_ERROR}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (ValueError, TypeError):
        raise SealingError(f"{what} is not base64") from None


def key_id(public_key: str) -> str:
    """A short, stable name of a public key (its SHA-256, 16 hex digits)."""
    return hashlib.sha256(_unb64(public_key, "the public key")).hexdigest()[:16]


@dataclass(frozen=True)
class KeyPair:
    """One sealing key: ``private`` and ``public`` are raw 32-byte X25519 keys in base64."""

    private: str
    public: str

    @property
    def id(self) -> str:
        return key_id(self.public)

    @classmethod
    def generate(cls) -> KeyPair:
        _require()
        private = X25519PrivateKey.generate()
        raw = private.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        return cls(_b64(raw), _b64(private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)))

    def as_dict(self) -> dict:
        return {"id": self.id, "private": self.private, "public": self.public}


def keyring_from(document: Any) -> list[KeyPair]:
    """The key pairs of a key file or Secret value (``{"keys": [{"private", "public"}, ...]}``, newest first)."""
    keys = (document or {}).get("keys") if isinstance(document, Mapping) else None
    if not isinstance(keys, list) or not keys:
        raise SealingError("the sealing key store holds no key")
    return [KeyPair(str(k["private"]), str(k["public"])) for k in keys]


def keyring_document(keys: list[KeyPair]) -> dict:
    return {"keys": [k.as_dict() for k in keys]}


def _derive(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + recipient_public, info=INFO).derive(
        shared
    )


def seal(payload: Mapping, recipient_public: str, context: str) -> dict:
    """``payload`` (JSON) encrypted to ``recipient_public``; opens only with the same ``context``."""
    _require()
    recipient_raw = _unb64(recipient_public, "the cluster's public sealing key")
    try:
        recipient = X25519PublicKey.from_public_bytes(recipient_raw)
    except ValueError:
        raise SealingError("the cluster's public sealing key is not an X25519 key") from None
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    key = _derive(ephemeral.exchange(recipient), ephemeral_raw, recipient_raw)
    nonce = os.urandom(12)
    plaintext = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return {
        "algorithm": ALGORITHM,
        "recipient": key_id(recipient_public),
        "ephemeralKey": _b64(ephemeral_raw),
        "nonce": _b64(nonce),
        "ciphertext": _b64(AESGCM(key).encrypt(nonce, plaintext, context.encode("utf-8"))),
    }


def unseal(sealed: Mapping, keys: list[KeyPair], context: str) -> dict:
    """The payload of a sealed block, opened with the key it names among ``keys``."""
    _require()
    if not isinstance(sealed, Mapping) or sealed.get("algorithm") != ALGORITHM:
        raise SealingError(f"spec.sealed: algorithm {sealed.get('algorithm')!r} is not {ALGORITHM}")
    mine = next((k for k in keys if k.id == sealed.get("recipient")), None)
    if mine is None:
        raise SealingError(
            f"spec.sealed is for key {sealed.get('recipient')}, which this syncer does not hold "
            f"(it holds {', '.join(k.id for k in keys) or 'none'}): the controller re-seals it to the published key"
        )
    private = X25519PrivateKey.from_private_bytes(_unb64(mine.private, "the private sealing key"))
    ephemeral_raw = _unb64(sealed.get("ephemeralKey"), "spec.sealed.ephemeralKey")
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
        key = _derive(shared, ephemeral_raw, _unb64(mine.public, "the public sealing key"))
        plaintext = AESGCM(key).decrypt(
            _unb64(sealed.get("nonce"), "spec.sealed.nonce"),
            _unb64(sealed.get("ciphertext"), "spec.sealed.ciphertext"),
            context.encode("utf-8"),
        )
    except (InvalidTag, ValueError):
        raise SealingError("spec.sealed does not open: it was changed, or sealed for another object") from None
    return json.loads(plaintext)


# ------------------------------------------------------------------ manifests


def sensitive_fields(manifest: Mapping) -> tuple[str, ...]:
    known = kinds.spec_for(manifest.get("kind"), manifest.get("apiVersion"))
    return SENSITIVE_FIELDS if known is not None and known.sealed else ()


def context_of(cluster: str, manifest: Mapping) -> str:
    """What a sealed block is bound to: the cluster and the object's apiVersion, kind, namespace, name."""
    meta = manifest.get("metadata") or {}
    return "/".join(
        (
            cluster,
            str(manifest.get("apiVersion")),
            str(manifest.get("kind")),
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
        )
    )


def seal_manifest(manifest: Mapping, cluster: str, recipient_public: str, source_version: str) -> tuple[dict, dict]:
    """(the manifest without its sensitive fields, the ``spec.sealed`` block that holds them).

    ``source_version``: the source's resourceVersion, recorded so that an unchanged source is not
    sealed again on every pass (a new sealing is a new ciphertext).
    """
    fields = sensitive_fields(manifest)
    clear = copy.deepcopy(dict(manifest))
    payload = {name: clear.pop(name) for name in fields if name in clear}
    sealed = seal(payload, recipient_public, context_of(cluster, clear))
    sealed["sourceResourceVersion"] = str(source_version or "")
    return clear, sealed


def unseal_manifest(manifest: Mapping, sealed: Mapping, cluster: str, keys: list[KeyPair]) -> dict:
    """The manifest with its sensitive fields back, from ``spec.sealed``."""
    payload = unseal(sealed, keys, context_of(cluster, manifest))
    allowed = sensitive_fields(manifest)
    if set(payload) - set(allowed):
        raise SealingError(f"spec.sealed holds fields {sorted(set(payload) - set(allowed))} its kind does not seal")
    return {**copy.deepcopy(dict(manifest)), **payload}


def comparable(sealed: Any) -> Any:
    """What of a sealed block says whether it must be sealed again: the key and the source version
    (the ciphertext differs at every sealing)."""
    if not isinstance(sealed, Mapping):
        return sealed
    return {k: sealed.get(k) for k in ("algorithm", "recipient", "sourceResourceVersion")}
