"""Clusters and placements the placement tests build, and the small fleet they share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ansible_collections.tmc.multicluster.plugins.module_utils import api

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def cluster(name, labels=None, location="", **extra):
    return {"name": name, "labels": labels or {}, "location": location, **extra}


def wp(spec, name="web", namespace="team-a", generation=1, uid=None):
    meta = {"name": name, "namespace": namespace, "generation": generation}
    if uid:
        meta["uid"] = uid
    return {"apiVersion": api.API_VERSION, "kind": api.KIND_PLACEMENT, "metadata": meta, "spec": spec}


def names(result):
    return [d["cluster"] for d in result.decisions]


FLEET = [
    cluster("a-east", {"tier": "prod", "region": "us"}, "us-east"),
    cluster("b-west", {"tier": "prod", "region": "us"}, "us-west"),
    cluster("c-eu", {"tier": "dev", "region": "eu"}, "eu-west"),
    cluster("d-nolabel", {}, "eu-west"),
]
