# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hub backup as one JSON document. Pure: no I/O, the clock and the random bytes are passed in.

What a backup keeps of an object is what a person wrote (metadata the API server sets is dropped,
status is dropped except a registration's sealing keys). A Secret's ``data``/``stringData`` is
never written in clear: it is encrypted (scrypt-derived key, AES-256-GCM, the object's identity
as associated data) with a key the user provides, and a backup that holds a Secret without such
a key is refused. Sealed payloads (already ciphertext) stay as they are.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.render import strip

FORMAT = f"{api.GROUP}/hub-backup/v1"
ENCRYPTED_FIELD = "encryptedPayload"
SECRET_PAYLOAD_FIELDS = ("data", "stringData")
ALGORITHM = "scrypt-n32768-r8-p1+aes-256-gcm"
# Registration status a new hub would otherwise lack until its syncers report again: the sealing
# keys, and the capacity a placement divided by available capacity splits by (the same split as before).
KEPT_REGISTRATION_STATUS = ("sealing", "allocatable", "capacity")
SECTIONS = ("api", "namespaces", "registrations", "placements", "sources", "syncworks")


class BackupError(api.TMCError):
    """A backup that cannot be written or read as asked; the message says what to do."""


def clean(obj: Mapping) -> dict:
    """The object as a person wrote it: no uid, resourceVersion, managedFields, owner references,
    finalizers, timestamps, status, nor annotations a client or controller wrote."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in strip.SERVER_SET_METADATA}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in strip.SERVER_SET_ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    if not meta.get("labels"):
        meta.pop("labels", None)
    out["metadata"] = meta
    if out.get("kind") == "Service" and isinstance(out.get("spec"), dict) and out["spec"].get("clusterIP") != "None":
        # Allocated by the old hub from its service range; a new hub allocates its own (and may
        # already hold the same address).
        out["spec"] = {k: v for k, v in out["spec"].items() if k not in ("clusterIP", "clusterIPs")}
    return out


def clean_registration(obj: Mapping) -> dict:
    out = clean(obj)
    kept = {k: copy.deepcopy(v) for k, v in (obj.get("status") or {}).items() if k in KEPT_REGISTRATION_STATUS}
    if kept:
        out["status"] = kept
    return out


def clean_syncwork(obj: Mapping) -> dict:
    """Of a SyncWork, what tells a restore what the old hub had sent to the member: the cluster,
    the placement, the source and the rendered manifest."""
    spec = obj.get("spec") or {}
    meta = obj.get("metadata") or {}
    return {
        "metadata": {"namespace": meta.get("namespace"), "name": meta.get("name")},
        "spec": {k: copy.deepcopy(spec[k]) for k in ("cluster", "placement", "source", "manifest") if k in spec},
    }


def is_secret(obj: Mapping) -> bool:
    return obj.get("kind") == "Secret" and str(obj.get("apiVersion", "v1")) == "v1"


def has_clear_payload(obj: Mapping) -> bool:
    return is_secret(obj) and any(obj.get(f) for f in SECRET_PAYLOAD_FIELDS)


def identity(obj: Mapping) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('apiVersion')}/{obj.get('kind')}/{meta.get('namespace') or ''}/{meta.get('name')}"


# ------------------------------------------------------------------ encryption


class SecretBox:
    """Encrypts Secret payloads with a key derived from the user's key material and a salt."""

    def __init__(self, material: bytes, salt: bytes):
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        if len(material.strip()) < 16:
            raise BackupError("the secret key file holds fewer than 16 bytes: use e.g. `openssl rand -base64 32`")
        self.salt = salt
        self._key = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(material.strip())
        # A digest key of its own (fixed context, no salt): equal payloads give equal digests
        # across backups, and without the key a digest tells nothing about the payload.
        self._digest_key = hashlib.sha256(b"tmc-backup-digest\0" + material.strip()).digest()

    def seal(self, obj: Mapping, nonce: bytes) -> dict:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        payload = {f: obj[f] for f in SECRET_PAYLOAD_FIELDS if f in obj}
        out = {k: v for k, v in obj.items() if k not in SECRET_PAYLOAD_FIELDS}
        ciphertext = AESGCM(self._key).encrypt(nonce, _canonical(payload), identity(obj).encode())
        out[ENCRYPTED_FIELD] = {"nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
        return out

    def open(self, obj: Mapping) -> dict:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        sealed = obj[ENCRYPTED_FIELD]
        out = {k: v for k, v in obj.items() if k != ENCRYPTED_FIELD}
        try:
            plain = AESGCM(self._key).decrypt(
                base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ciphertext"]), identity(out).encode()
            )
        except (InvalidTag, KeyError, ValueError) as err:
            raise BackupError(
                f"cannot decrypt {identity(out)}: wrong secret key file, or the backup was altered"
            ) from err
        out.update(json.loads(plain))
        return out

    def digest_of(self, payload: Any) -> str:
        return hmac.new(self._digest_key, _canonical(payload), hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def secrets_in(sections: Mapping[str, list]) -> list[str]:
    """Identities of every object (or SyncWork manifest) that carries a Secret payload in clear."""
    found = [identity(o) for o in sections.get("sources", ()) if has_clear_payload(o)]
    found += [
        identity(w["spec"]["manifest"])
        for w in sections.get("syncworks", ())
        if has_clear_payload((w.get("spec") or {}).get("manifest") or {})
    ]
    return found


def _map_secrets(sections: Mapping[str, list], change) -> dict[str, list]:
    out: dict[str, list] = {}
    for name, items in sections.items():
        if name == "sources":
            out[name] = [change(o) if has_clear_payload(o) else o for o in items]
        elif name == "syncworks":
            out[name] = [
                {**w, "spec": {**w["spec"], "manifest": change(w["spec"]["manifest"])}}
                if has_clear_payload(w["spec"].get("manifest") or {})
                else w
                for w in items
            ]
        else:
            out[name] = list(items)
    return out


# ------------------------------------------------------------------ the document


def digest(sections: Mapping[str, list], box: SecretBox | None) -> str:
    """What a backup holds, as one hash: equal for an unchanged hub (Secret payloads enter through
    the box's keyed digest, never as plain hashes)."""

    def hidden(obj: Mapping) -> dict:
        payload = {f: obj[f] for f in SECRET_PAYLOAD_FIELDS if f in obj}
        rest = {k: v for k, v in obj.items() if k not in SECRET_PAYLOAD_FIELDS}
        return {**rest, "payloadDigest": box.digest_of(payload) if box else None}

    ordered = {name: sorted(items, key=_sort_key) for name, items in _map_secrets(sections, hidden).items()}
    return hashlib.sha256(_canonical(ordered)).hexdigest()


def _sort_key(obj: Mapping) -> str:
    if "manifest" in (obj.get("spec") or {}) and "kind" not in obj:
        meta = obj.get("metadata") or {}
        return f"SyncWork/{meta.get('namespace')}/{meta.get('name')}"
    return identity(obj)


def build(
    sections: Mapping[str, list],
    resource_version: str,
    taken_at: str,
    hub: str,
    box: SecretBox | None,
    nonces: Iterable[bytes],
) -> dict:
    """The backup document. Refused when a Secret payload is in clear and no key was given."""
    clear = secrets_in(sections)
    if clear and box is None:
        raise BackupError(
            f"the hub holds Secret payloads ({', '.join(clear[:3])}{', ...' if len(clear) > 3 else ''}): "
            "give secret_key_file (a key only you hold) so they are encrypted, or secrets=omit to leave them out"
        )
    nonce = iter(nonces)
    encrypted = _map_secrets(sections, lambda o: box.seal(o, next(nonce))) if clear else dict(sections)
    return {
        "format": FORMAT,
        "takenAt": taken_at,
        "resourceVersion": resource_version,
        "hub": hub,
        "digest": digest(sections, box),
        "encryption": {"algorithm": ALGORITHM, "salt": _b64(box.salt)} if box is not None else None,
        "counts": {name: len(sections.get(name, ())) for name in SECTIONS},
        **{name: encrypted.get(name, []) for name in SECTIONS},
    }


def omit_secrets(sections: Mapping[str, list]) -> dict[str, list]:
    """secrets=omit: no Secret at all (not even its name's payload); SyncWorks of Secrets neither."""
    out = _map_secrets(sections, lambda o: o)
    out["sources"] = [o for o in out.get("sources", ()) if not is_secret(o)]
    out["syncworks"] = [w for w in out.get("syncworks", ()) if not is_secret(w["spec"].get("manifest") or {})]
    return out


def check(doc: Mapping) -> None:
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        raise BackupError(f"not a TMC hub backup (format {doc.get('format') if isinstance(doc, Mapping) else None!r})")


def salt_of(doc: Mapping) -> bytes | None:
    enc = doc.get("encryption")
    return base64.b64decode(enc["salt"]) if enc else None


def decrypted(doc: Mapping, box: SecretBox | None) -> dict[str, list]:
    """The document's sections with every Secret payload decrypted (the box is required then)."""

    def sealed(obj: Mapping) -> bool:
        return ENCRYPTED_FIELD in obj

    needs = any(sealed(o) for o in doc.get("sources", ())) or any(
        sealed(w["spec"].get("manifest") or {}) for w in doc.get("syncworks", ())
    )
    if needs and box is None:
        raise BackupError("the backup holds encrypted Secrets: give secret_key_file, the key it was taken with")
    out: dict[str, list] = {}
    for name in SECTIONS:
        items = list(doc.get(name) or [])
        if name == "sources":
            items = [box.open(o) if sealed(o) else o for o in items]
        elif name == "syncworks":
            items = [
                {**w, "spec": {**w["spec"], "manifest": box.open(w["spec"]["manifest"])}}
                if sealed(w["spec"].get("manifest") or {})
                else w
                for w in items
            ]
        out[name] = items
    return out
