# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TMC's long-running daemons, the controller and the syncer (private to this collection).

Start them with
``python -m ansible_collections.tmc.multicluster.plugins.module_utils.daemons controller|syncer [flags]``
(the roles tmc.multicluster.controller and tmc.multicluster.syncer do this for you).
"""
