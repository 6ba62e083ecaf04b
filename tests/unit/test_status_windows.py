"""Status writes wait longer while new desired states wait: the applies and SyncWork writes go
first, and reports that then arrive close together become one status write."""

from __future__ import annotations

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import controller, syncer


def test_the_syncer_writes_status_after_a_short_window_when_no_apply_waits():
    assert syncer.status_window(applies_waiting=False) == syncer.STATUS_WINDOW


def test_the_syncer_waits_longer_while_applies_wait():
    assert syncer.status_window(applies_waiting=True) == syncer.STATUS_WINDOW_BUSY > syncer.STATUS_WINDOW

