# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemons as real processes: start, readiness, queues, CPU, memory, profiles."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.benchlib.common import (
    COLLECTIONS,
    LATENCY_HISTOGRAMS,
    MODULE,
    BenchError,
    cpu_seconds,
    summarize_histograms,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int, field: str) -> float | None:
    """A memory field of /proc/<pid>/status (VmHWM, VmRSS) in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class Daemon:
    """One controller or syncer process (its own session, so that it and only it is stopped)."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, collections: Path = COLLECTIONS):
        self.name = name
        self.collections = collections
        self.port = free_port()
        self.argv = [
            sys.executable,
            "-m",
            MODULE,
            *argv,
            "--health-port",
            str(self.port),
            "--metrics-port",
            str(self.port),
            "--log-format",
            "json",
        ]
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.profiler: subprocess.Popen | None = None
        self.profile_path: Path | None = None

    def start(self) -> Daemon:
        env = {**os.environ, "PYTHONPATH": str(self.collections)}
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        return self

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, ""
        except OSError:
            return 0, ""

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise BenchError(f"{self.name} exited ({code}):\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.get("/readyz")[0] == 200:
                return
            time.sleep(0.3)
        raise BenchError(f"{self.name} not ready after {timeout:.0f}s:\n{self.tail()}")

    def queue_depth(self) -> float:
        """Keys waiting in the work queue (metric tmc_workqueue_depth); -1 when the metrics do not answer."""
        status, text = self.get("/metrics")
        if status != 200:
            return -1
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("tmc_workqueue_depth{")
        )

    def latency_metrics(self) -> dict:
        """The daemon's own latency histograms (queue wait and reconcile per key type, API calls per
        server and verb): count, mean and p95 in ms, from its /metrics."""
        status, text = self.get("/metrics")
        if status != 200:
            return {}
        return summarize_histograms(text, LATENCY_HISTOGRAMS)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the process so far (/proc/<pid>/stat)."""
        return None if self.proc is None else cpu_seconds(self.proc.pid)

    def memory(self) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            return {"peak_mb": None, "rss_mb": None}
        return {"peak_mb": proc_status(self.proc.pid, "VmHWM"), "rss_mb": proc_status(self.proc.pid, "VmRSS")}

    def start_profiler(self, py_spy: str, out_dir: Path, rate: int, idle: bool = False) -> None:
        self.profile_path = out_dir / f"{self.name}.txt"
        with open(out_dir / f"{self.name}.py-spy.log", "ab") as out:
            self.profiler = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(self.proc.pid),
                    "--rate",
                    str(rate),
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(self.profile_path),
                    *(["--idle"] if idle else []),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def stop_profiler(self) -> None:
        if self.profiler is None or self.profiler.poll() is not None:
            return
        self.profiler.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            self.profiler.wait(60)
        except subprocess.TimeoutExpired:
            self.profiler.kill()
            self.profiler.wait(10)

    def stop(self) -> None:
        self.stop_profiler()
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def wait_quiet(daemons: list[Daemon], timeout: float, rounds: int = 3) -> float:
    """Wait until every daemon's work queue is empty ``rounds`` times in a row (0.5 s apart)."""
    start = time.monotonic()
    deadline = start + timeout
    calm = 0
    while calm < rounds:
        for daemon in daemons:
            daemon.check_alive()
        depths = [d.queue_depth() for d in daemons]
        calm = calm + 1 if all(depth == 0 for depth in depths) else 0
        if time.monotonic() >= deadline:
            raise BenchError(f"the daemons' queues did not drain in {timeout:.0f}s: {depths}")
        time.sleep(0.5)
    return time.monotonic() - start


class RssSampler:
    """Reads every daemon's VmRSS every ``interval`` seconds in a thread; samples are ``(t, MB)``."""

    def __init__(self, daemons: list[Daemon], interval: float, stop: threading.Event):
        self.daemons, self.interval, self.stop = daemons, interval, stop
        self.samples: dict[str, list[tuple[float, float]]] = {d.name: [] for d in daemons}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self.thread.start()
        return self

    def sample(self) -> dict[str, float | None]:
        """Read every daemon's VmRSS now (and keep it as a sample)."""
        now = time.monotonic()
        found = {}
        for daemon in self.daemons:
            rss = daemon.memory()["rss_mb"]
            found[daemon.name] = rss
            if rss is not None:
                with self.lock:
                    self.samples[daemon.name].append((now, rss))
        return found

    def _run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def window(self, name: str, start: float, end: float | None = None) -> list[float]:
        with self.lock:
            return [mb for t, mb in self.samples[name] if t >= start and (end is None or t <= end)]
