# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Layer 4 of the engine: one reconcile pass of each loop (private to this collection).

Modules run a pass once; the daemons run the same passes driven by watches.
"""
