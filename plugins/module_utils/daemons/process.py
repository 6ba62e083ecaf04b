# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon process: signals, and whether its threads still run."""

from __future__ import annotations

import logging
import signal
import threading

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.observability import log


def all_alive(threads) -> bool:
    """True when every thread (workers, watches) still runs: /healthz fails once one has died."""
    return all(thread.is_alive() for thread in threads)


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask for a graceful stop: in-flight keys finish first."""

    def handler(signum, _frame):
        log(logging.INFO, "stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
