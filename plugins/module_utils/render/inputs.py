# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks on render's inputs (a source object, a cluster name) and the source reference."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api

_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_cluster(cluster: Any) -> None:
    if not isinstance(cluster, str) or len(cluster) > 63 or not _DNS_LABEL_RE.match(cluster):
        raise api.SpecError("cluster", f"{cluster!r} is not a cluster name (a DNS label: a-z, 0-9, '-')")


def check_source(source: Any) -> None:
    if not isinstance(source, Mapping):
        raise api.SpecError("source", "must be a Kubernetes object")
    if not source.get("kind") or not source.get("apiVersion"):
        raise api.SpecError("source", "needs apiVersion and kind")
    meta = source.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise api.SpecError("source.metadata.name", "is missing")


def source_reference(source: Mapping) -> str:
    """The value of the tmc.kcp.io/source annotation: <namespace>/<name>/<uid>."""
    meta = source.get("metadata") or {}
    return api.source_annotation(meta.get("namespace") or "", meta.get("name") or "", meta.get("uid") or "")
