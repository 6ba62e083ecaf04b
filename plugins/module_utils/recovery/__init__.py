# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hub disaster recovery: backup documents, their files, and restoring them onto an empty hub. Private.

``document`` (pure): what a backup keeps of each object, Secret payloads encrypted with the user's
key, the digest that tells an unchanged hub. ``files``: writing (0600) and retention. ``snapshot``:
reading the hub at one resourceVersion. ``restore``: judging each placement against what the
members run, and creating what the backup holds on the new hub.
"""
