"""python -m hack.testbed up|down|status|env [--state DIR] [--members N]

up      build missing binaries, start the hub and members, wait until ready (idempotent)
down    stop every process of the testbed and delete its state directory
status  JSON: processes, resident memory, kubeconfigs
env     shell exports (TMC_HUB_KUBECONFIG, TMC_MEMBER1_KUBECONFIG, ...); --json for JSON
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

from .launcher import Testbed, TestbedError

DEFAULT_STATE = os.environ.get("TMC_TESTBED_STATE", ".testbed/default")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hack.testbed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("verb", choices=["up", "down", "status", "env"])
    parser.add_argument("--state", default=DEFAULT_STATE, help="state directory (default: %(default)s)")
    parser.add_argument(
        "--members",
        type=int,
        default=int(os.environ.get("TMC_TESTBED_MEMBERS", "3")),
        help="number of member clusters (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="env: print JSON instead of shell exports")
    args = parser.parse_args(argv)
    bed = Testbed(args.state, members=args.members)
    try:
        if args.verb == "up":
            info = bed.up()
            print(f"testbed up in {info['state_dir']}: hub + {', '.join(info['members'])}", file=sys.stderr)
            for name, variable in bed.env().items():
                print(f"  {name}={variable}", file=sys.stderr)
        elif args.verb == "down":
            stopped = bed.down()
            print(f"testbed down: stopped {len(stopped)} processes", file=sys.stderr)
        elif args.verb == "status":
            print(json.dumps(bed.status(), indent=2))
        elif args.verb == "env":
            env = bed.env()
            if args.json:
                print(json.dumps(env, indent=2))
            else:
                for name, value in env.items():
                    print(f"export {name}={shlex.quote(value)}")
    except TestbedError as err:
        print(f"testbed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
