# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
import sys

from ansible_collections.tmc.multicluster.plugins.module_utils.cli.app import main

if __name__ == "__main__":  # python -m ...module_utils.cli; importing it runs nothing
    sys.exit(main())
