"""python -m hack.testbed up|down|status|env [--state DIR] [--members N]

up      build missing binaries, start the hub and members, wait until ready (idempotent);
        --with-prometheus also starts a real Prometheus that scrapes every daemon registered
        with hack.testbed.prometheus.Prometheus(bed).add_target (hack/testbed/prometheus.py)
down    stop every process of the testbed and delete its state directory
status  JSON: processes, resident memory, kubeconfigs
env     shell exports (TMC_HUB_KUBECONFIG, TMC_MEMBER1_KUBECONFIG, ...); --json for JSON

For chaos scenarios:
stop CLUSTER COMPONENT    stop one process (e.g. stop member2 kube-apiserver, stop hub etcd)
start CLUSTER COMPONENT   start it again with its ports and data, and wait until it answers
cut CLUSTER               partition: the cluster's toxiproxy proxy refuses and drops connections
restore CLUSTER           undo cut
latency CLUSTER MS        add MS milliseconds to every response through the cluster's proxy
reset                     enable every proxy and remove every toxic
destroy-hub               disaster: stop the hub (API server, etcd, controller-manager) and remove etcd's data
fresh-hub                 start an empty hub on the same ports and certificates (after destroy-hub)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

from .launcher import Component, Testbed, TestbedError
from .prometheus import Prometheus, PrometheusError

DEFAULT_STATE = os.environ.get("TMC_TESTBED_STATE", ".testbed/default")


def _one(target: list[str]) -> str:
    if len(target) != 1:
        raise TestbedError("give one CLUSTER")
    return target[0]


def _two(target: list[str], what: str) -> tuple[str, str]:
    if len(target) != 2:
        raise TestbedError(f"give {what}")
    return target[0], target[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hack.testbed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "verb",
        choices=[
            "up",
            "down",
            "status",
            "env",
            "stop",
            "start",
            "cut",
            "restore",
            "latency",
            "reset",
            "destroy-hub",
            "fresh-hub",
        ],
    )
    parser.add_argument("target", nargs="*", help="cluster (and component or milliseconds) for chaos verbs")
    parser.add_argument("--state", default=DEFAULT_STATE, help="state directory (default: %(default)s)")
    parser.add_argument(
        "--members",
        type=int,
        default=int(os.environ.get("TMC_TESTBED_MEMBERS", "3")),
        help="number of member clusters (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="env: print JSON instead of shell exports")
    parser.add_argument("--with-prometheus", action="store_true", help="up: start Prometheus too")
    args = parser.parse_intermixed_args(argv)
    bed = Testbed(args.state, members=args.members)
    try:
        if args.verb == "up":
            info = bed.up()
            if args.with_prometheus:
                print(f"prometheus: {Prometheus(bed).up()}", file=sys.stderr)
            print(f"testbed up in {info['state_dir']}: hub + {', '.join(info['members'])}", file=sys.stderr)
            for name, variable in bed.env().items():
                print(f"  {name}={variable}", file=sys.stderr)
        elif args.verb == "down":
            stopped = bed.down()
            print(f"testbed down: stopped {len(stopped)} processes", file=sys.stderr)
        elif args.verb == "status":
            print(json.dumps(bed.status(), indent=2))
        elif args.verb in ("stop", "start"):
            cluster, component = _two(args.target, "CLUSTER COMPONENT")
            c = Component(cluster, component)
            if c not in bed.components():
                raise TestbedError(f"no component {component} on {cluster}")
            if args.verb == "stop":
                print(json.dumps({"stopped": bed.stop(c)}))
            else:
                bed.start(c)
                print(json.dumps({"started": True, "pid": bed.pid(c)}))
        elif args.verb == "cut":
            bed.proxy_cut(_one(args.target))
        elif args.verb == "restore":
            bed.proxy_restore(_one(args.target))
        elif args.verb == "latency":
            cluster, ms = _two(args.target, "CLUSTER MS")
            bed.proxy_latency(cluster, int(ms))
        elif args.verb == "reset":
            bed.proxy_reset()
        elif args.verb == "destroy-hub":
            bed.destroy_hub()
        elif args.verb == "fresh-hub":
            bed.fresh_hub()
        elif args.verb == "env":
            env = bed.env()
            if args.json:
                print(json.dumps(env, indent=2))
            else:
                for name, value in env.items():
                    print(f"export {name}={shlex.quote(value)}")
    except (TestbedError, PrometheusError) as err:
        print(f"testbed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
