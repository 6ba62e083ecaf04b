# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error every API call raises: ``KubeError``, with the API server's own message."""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api


class KubeError(api.TMCError):
    """An API call failed; ``status`` is the HTTP status (0 for connection errors)."""

    def __init__(self, message: str, status: int = 0, reason: str = "", details: Mapping | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.details = dict(details or {})


class NotLeader(KubeError):
    """A write was not sent: the client's write gate says this process does not lead (any more).

    Never transient: retrying it would only write once leadership is back, from a pass planned
    before it was lost. The new leader's first pass redoes the work."""

    def __init__(self, message: str):
        super().__init__(message, 0, "NotLeader")
