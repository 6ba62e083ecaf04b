# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``kubectl tmc``: the operator's command line, an edge beside the modules and the daemons.

It calls the same engine functions as the modules (``reconcile``, ``placement``, ``kube``); private
to this collection. Run: ``kubectl tmc --help`` (``make cli`` installs ``kubectl-tmc`` on PATH) or
``python -m ansible_collections.tmc.multicluster.plugins.module_utils.cli --help``.
"""
