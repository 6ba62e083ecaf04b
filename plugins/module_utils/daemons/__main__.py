# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m ansible_collections.tmc.multicluster.plugins.module_utils.daemons controller|syncer [flags]"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("controller", "syncer"):
        sys.stderr.write(__doc__.strip() + "\n")
        return 2
    if argv[0] == "controller":
        from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import controller as daemon
    else:
        from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import syncer as daemon
    return daemon.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
