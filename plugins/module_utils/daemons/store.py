# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemons' watch caches: every object kept compressed, read back as a fresh copy.

Private to this collection. A daemon caches every object it watches, so at 10,000 workloads on
3 clusters the controller holds 10,000 sources and 30,000 SyncWorks. Kept as Python dicts, a
Deployment costs about 4.2 KB and a compacted SyncWork 3 KB, nearly all of it dict overhead
that interning cannot share. Kept as zlib-compressed compact JSON, each costs about 0.75 KB; a
read decodes it again in about 25 µs. The daemons read a handful of objects per change, and a
full pass reads a namespace once, so the time is small next to the API calls it leads to.

A read returns a copy of its own: whoever changes it changes nothing in the cache.

Indexes map a value to the keys of the objects that yield it (``indexers``: name -> function of
an object -> values), so a read by index decodes only the objects it returns.
"""

from __future__ import annotations

import json
import sys
import threading
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping

Indexers = Mapping[str, Callable[[dict], Iterable]]

# zlib level 1: almost the size of level 6 on objects this small, at a third of the time.
LEVEL = 1
WBITS = zlib.MAX_WBITS
# A store's preset dictionary is the longest object it has encoded: an object at least GROW times
# longer than the dictionary replaces it, while the store holds at most REDICT_LIMIT objects and up
# to zlib's 32 KB window. Objects grow as their status fills in: a SyncWork is first seen without
# one, and with its first object as the dictionary the later ones, status and all, cost 450 bytes;
# with one that has a status, 280.
GROW = 1.1
REDICT_LIMIT = 2_000
MAX_DICTIONARY = 32 * 1024
FDICT = 0x20  # the zlib header flag of a stream compressed against a preset dictionary


def _text(obj: Mapping) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _compress(text: bytes, zdict: bytes | None) -> bytes:
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, 8, zlib.Z_DEFAULT_STRATEGY, zdict or b"")
    return compressor.compress(text) + compressor.flush()


def encode(obj: Mapping, zdict: bytes | None = None) -> bytes:
    """One object compressed (against the preset dictionary ``zdict`` when given)."""
    return _compress(_text(obj), zdict)


def decode(raw: bytes, zdict: bytes | None = None) -> dict:
    """A fresh copy of an object ``encode`` made with the same ``zdict``."""
    decompressor = zlib.decompressobj(WBITS, zdict or b"")
    return json.loads(decompressor.decompress(raw) + decompressor.flush())


def dictionary_id(raw: bytes) -> int | None:
    """The Adler-32 of the preset dictionary ``raw`` was compressed against (zlib's header keeps it),
    or None for a stream compressed without one."""
    return int.from_bytes(raw[2:6], "big") if len(raw) > 6 and raw[1] & FDICT else None


def shared(value):
    """A key or an index value with its strings interned: 30,000 keys then share one copy of each
    namespace, kind, cluster and placement name (about a third of what the indexes cost)."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, tuple):
        return tuple(shared(part) for part in value)
    return value


class ObjectStore:
    """Objects by key, encoded, with secondary indexes; safe to share between threads.

    Objects of one kind look alike, so an object kept becomes the store's zlib preset dictionary:
    every later one is compressed against it and costs what differs from it (a compacted SyncWork
    with its status about 280 bytes instead of 745). The dictionary is the longest object encoded
    while the store was small (see ``GROW``); each encoded object names its dictionary in its zlib
    header, so one encoded against an earlier dictionary still decodes.
    """

    def __init__(self, indexers: Indexers | None = None):
        self.indexers = dict(indexers or {})
        self._objects: dict[Hashable, bytes] = {}
        self._indexes: dict[str, dict] = {name: {} for name in self.indexers}
        self._lock = threading.Lock()
        self._zdict: bytes | None = None  # the dictionary new objects are encoded against
        self._zdicts: dict[int | None, bytes | None] = {None: None}  # every dictionary used, by Adler-32

    def encode(self, obj: Mapping) -> bytes:
        """One object as this store keeps it."""
        text = _text(obj)
        zdict = self._zdict
        if zdict is None or (
            len(text) >= len(zdict) * GROW and len(text) <= MAX_DICTIONARY and len(self._objects) <= REDICT_LIMIT
        ):
            zdict = self._adopt(text)
        return _compress(text, zdict)

    def _adopt(self, text: bytes) -> bytes:
        """``text`` as the dictionary of the objects encoded from now on, unless a dictionary as long
        came first or one with the same Adler-32 is already in use; returns the dictionary to use."""
        with self._lock:
            current, ident = self._zdict, zlib.adler32(text)
            if (current is None or len(text) >= len(current) * GROW) and ident not in self._zdicts:
                self._zdicts[ident] = self._zdict = text
            return self._zdict

    def decode(self, raw: bytes) -> dict:
        """A fresh copy of an object this store keeps."""
        return decode(raw, self._zdicts[dictionary_id(raw)])

    def _same(self, raw: bytes, other: bytes) -> bool:
        """Whether two encoded objects are the same object (encoded against the same dictionary or not)."""
        if raw == other:
            return True
        if dictionary_id(raw) == dictionary_id(other):
            return False
        return self.decode(raw) == self.decode(other)

    def __len__(self) -> int:
        return len(self._objects)

    # -- reads (decoded outside the lock)

    def get(self, key: Hashable) -> dict | None:
        with self._lock:
            raw = self._objects.get(key)
        return None if raw is None else self.decode(raw)

    def items(self) -> list[dict]:
        return list(self.iter_items())

    def iter_items(self) -> Iterator[dict]:
        """Every object, decoded one at a time as the caller goes (a pass over 30,000 objects holds
        one of them at a time, not all). The objects are those kept when the call was made."""
        with self._lock:
            raws = list(self._objects.values())
        return (self.decode(raw) for raw in raws)

    def by_index(self, index: str, value) -> list[dict]:
        """The objects whose ``index`` function yields ``value``."""
        return list(self.iter_by_index(index, value))

    def iter_by_index(self, index: str, value) -> Iterator[dict]:
        """``by_index``, decoded one at a time as the caller goes."""
        with self._lock:
            keys = self._indexes[index].get(value, ())
            raws = [self._objects[key] for key in keys]
        return (self.decode(raw) for raw in raws)

    def keys_by_index(self, index: str, value) -> list:
        """The keys of the objects whose ``index`` function yields ``value`` (nothing decoded)."""
        with self._lock:
            return list(self._indexes[index].get(value, ()))

    def index_values(self, index: str) -> list:
        """Every value ``index`` has objects under (nothing decoded)."""
        with self._lock:
            return list(self._indexes[index])

    # -- writes

    def put(self, key: Hashable, obj: Mapping) -> dict | None:
        """Keep ``obj`` under ``key``; returns the object it replaces."""
        raw, key = self.encode(obj), shared(key)
        with self._lock:
            previous = self._objects.get(key)
            old = None if previous is None else self.decode(previous)
            self._objects[key] = raw
            self._reindex(key, obj, old)
        return old

    def delete(self, key: Hashable) -> dict | None:
        """Forget ``key``; returns the object it held."""
        with self._lock:
            previous = self._objects.pop(key, None)
            old = None if previous is None else self.decode(previous)
            self._reindex(key, None, old)
        return old

    def replace(self, entries: Iterable[tuple[Hashable, bytes]]) -> list[tuple[str, bytes, bytes | None]]:
        """Keep exactly ``entries`` (key, ``encode``d object): a re-list. Returns the changes as
        (event, object, old object), still encoded so that a list of 30,000 objects is never
        decoded all at once: ADDED for a new key, MODIFIED for a changed object, DELETED for a key
        no longer there (with the old object as both)."""
        fresh = {shared(key): raw for key, raw in entries}
        with self._lock:
            previous, self._objects = self._objects, fresh
            self._indexes = {name: {} for name in self.indexers}
            if self.indexers:
                for key, raw in fresh.items():
                    self._reindex(key, self.decode(raw), None)
        changes: list[tuple[str, bytes, bytes | None]] = []
        for key, raw in fresh.items():
            before = previous.get(key)
            if before is None:
                changes.append(("ADDED", raw, None))
            elif not self._same(raw, before):
                changes.append(("MODIFIED", raw, before))
        changes.extend(("DELETED", before, before) for key, before in previous.items() if key not in fresh)
        return changes

    def _reindex(self, key: Hashable, obj: Mapping | None, old: Mapping | None) -> None:
        """Move ``key`` from the index entries of ``old`` to those of ``obj`` (lock held)."""
        for name, function in self.indexers.items():
            index = self._indexes[name]
            for value in function(old) if old is not None else ():
                bucket = index.get(value)
                if bucket is not None:
                    bucket.pop(key, None)
                    if not bucket:
                        del index[value]
            for value in function(obj) if obj is not None else ():
                index.setdefault(shared(value), {})[key] = None
