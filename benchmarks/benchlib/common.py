# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every benchmark program shares: paths, logging, waits, percentiles, CPU and request counters."""

from __future__ import annotations

import contextlib
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
COLLECTIONS = REPO / ".build" / "collections"
BIN = Path(sys.executable).parent
MODULE = "ansible_collections.tmc.multicluster.plugins.module_utils.daemons"

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
API = f"{GROUP}/{VERSION}"
SOURCE_NS_LABEL = f"{GROUP}/source-namespace"
PROGRAM = ["bench"]  # the name log lines carry: each program sets PROGRAM[0]


def log(message: str) -> None:
    print(f"[{PROGRAM[0]} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


def import_engine():
    link = COLLECTIONS / "ansible_collections" / "tmc" / "multicluster"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            link.symlink_to(REPO, target_is_directory=True)
    for path in (str(COLLECTIONS), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)
    from ansible_collections.tmc.multicluster.plugins.module_utils import kube

    return kube


def wait_until(what: str, check, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else round((ordered[middle - 1] + ordered[middle]) / 2, 1)


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


# ------------------------------------------------------------------ ansible


def _ansible_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "PYTHONPATH": f"{COLLECTIONS}:{REPO}",
        }
    )
    return env


def run_playbook(playbook: Path, timeout: float = 600) -> None:
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=_ansible_env(), cwd=playbook.parent, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise BenchError(f"{playbook.name} failed (rc={proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")


LATENCY_HISTOGRAMS = (
    "tmc_workqueue_queue_duration_seconds",
    "tmc_reconcile_duration_seconds",
    "tmc_api_request_duration_seconds",
)


def summarize_histograms(text: str, names) -> dict:
    """``{name: {"label=value,...": {count, mean_ms, p95_ms}}}`` of Prometheus histograms (p95: the
    upper bound of the bucket that holds it)."""
    from prometheus_client.parser import text_string_to_metric_families

    found: dict = {}
    for family in text_string_to_metric_families(text):
        if family.name not in names:
            continue
        series: dict = {}
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()) if k != "le")
            entry = series.setdefault(labels, {"buckets": [], "count": 0, "sum": 0.0})
            if sample.name.endswith("_bucket"):
                entry["buckets"].append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                entry["count"] = sample.value
            elif sample.name.endswith("_sum"):
                entry["sum"] = sample.value
        found[family.name] = {
            labels: {
                "count": int(e["count"]),
                "mean_ms": round(1000 * e["sum"] / e["count"], 1),
                "p95_ms": _bucket_quantile(sorted(e["buckets"]), e["count"], 0.95),
            }
            for labels, e in series.items()
            if e["count"]
        }
    return found


def _bucket_quantile(buckets: list, count: float, q: float) -> float | None:
    for bound, cumulative in buckets:
        if cumulative >= q * count:
            return None if math.isinf(bound) else round(1000 * bound, 1)
    return None


def testbed_cpu_seconds(testbeds) -> dict:
    """User + system CPU time so far of each testbed component (``<cluster>/<component>``)."""
    found = {}
    for testbed in testbeds:
        for component in testbed.components():
            pid = testbed.pid(component)
            used = None if pid is None else cpu_seconds(pid)
            if used is not None:
                found[f"{component.cluster}/{component.name}"] = used
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (/proc/<pid>/stat), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_load() -> dict:
    """The machine's load when asked: its load averages and ``uptime``'s line (a noisy machine's
    times are slower; ratios against a floor measured in the same run are the honest figures)."""
    try:
        uptime = subprocess.run(["uptime"], capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        uptime = ""
    return {"load_average": [round(x, 2) for x in os.getloadavg()], "uptime": uptime, "cpus": os.cpu_count()}


def hub_requests(bed) -> Counter:
    """The hub API server's request counters (apiserver_request_total, no watches) by verb and resource.

    Counts every client of the hub: on a shared testbed others' requests are in them too.
    """
    from hack.testbed import HUB

    counts: Counter = Counter()
    try:
        status, text = bed.request(HUB, "GET", "/metrics", timeout=30)
    except OSError:
        return counts
    if status != 200 or not isinstance(text, str):
        return counts
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if labels.get("verb") in ("WATCH", "CONNECT"):
            continue
        resource = "/".join(x for x in (labels.get("group"), labels.get("resource"), labels.get("subresource")) if x)
        counts[f"{labels.get('verb')} {resource}"] += int(float(line.rsplit(" ", 1)[1]))
    return counts
