"""A real Prometheus beside the testbed: the independent oracle for alerting rules, recording
rules and dashboard queries (DESIGN.md section 6).

``prometheus`` and ``promtool`` are built from the Go module github.com/prometheus/prometheus by
``build-prometheus.sh`` (cached like the other binaries, built only when something asks for them).

Targets: whoever starts a daemon registers it with ``add_target`` — one JSON file in
``<state>/prometheus/targets/`` (the file_sd format) — and Prometheus reloads its configuration, whose
static targets are those files. Daemons started after Prometheus, on any port, are scraped from then
on. (Not file_sd itself: it needs an inotify instance, and a machine running a testbed's dozen API
servers, etcds and controllers often has none left: "couldn't initialize inotify: too many open files".)
A stopped daemon keeps its file, so its ``up`` series goes to 0 (what a ``*Down`` alert watches);
``remove_target`` forgets it. Rule files are copied into ``<state>/prometheus/rules/`` and loaded with
a reload.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
READY_TIMEOUT = 60.0


class PrometheusError(RuntimeError):
    """Prometheus could not be built, started or asked; the message says what and where to look."""


def build() -> Path:
    """The directory holding ``prometheus`` and ``promtool``, building them first when missing."""
    override = os.environ.get("TMC_PROMETHEUS_BIN")
    if override:
        return Path(override)
    result = subprocess.run(["bash", str(HERE / "build-prometheus.sh")], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise PrometheusError("building Prometheus failed (hack/testbed/build-prometheus.sh); see its output above")
    return Path(result.stdout.strip().splitlines()[-1])


def promtool(*args: str, cwd: os.PathLike | str | None = None) -> subprocess.CompletedProcess:
    """Run ``promtool ARGS`` (building it when missing); the completed process, output as text."""
    binary = build() / "promtool"
    return subprocess.run([str(binary), *args], capture_output=True, text=True, check=False, cwd=cwd)


def config(scrape_interval: str, evaluation_interval: str, targets: list[dict]) -> dict:
    """prometheus.yml: ``targets`` (file_sd groups: targets and labels), every rule file under rules/."""
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "rule_files": ["rules/*.yml"],
        "scrape_configs": [
            {
                # The job label comes from each target (tmc-controller, tmc-syncer), as the roles'
                # ServiceMonitors set it.
                "job_name": "tmc",
                "static_configs": targets,
            }
        ],
    }


class Prometheus:
    """The testbed's Prometheus: its files live in ``<state dir>/prometheus``, its port and pid in the
    testbed's state (``state["prometheus"]``), so ``down`` of the testbed stops it too."""

    def __init__(self, bed):
        self.bed = bed
        self.dir = Path(bed.dir) / "prometheus"

    # ------------------------------------------------------------- files

    @property
    def targets_dir(self) -> Path:
        return self.dir / "targets"

    @property
    def rules_dir(self) -> Path:
        return self.dir / "rules"

    @property
    def pid_file(self) -> Path:
        return self.dir / "prometheus.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.bed.state['prometheus']['port']}"

    def add_target(self, name: str, port: int, job: str, **labels: str) -> Path:
        """Scrape ``127.0.0.1:port`` as ``job`` with ``labels`` (written atomically: file_sd never
        reads half a file)."""
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        path = self.targets_dir / f"{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"job": job, **labels}}]))
        tmp.replace(path)
        self._configure()
        return path

    def remove_target(self, name: str) -> None:
        (self.targets_dir / f"{name}.json").unlink(missing_ok=True)
        self._configure()

    def _targets(self) -> list[dict]:
        groups = []
        for path in sorted(self.targets_dir.glob("*.json")):
            groups += json.loads(path.read_text())
        return groups

    def _configure(self) -> None:
        """Write prometheus.yml from the target files and, when Prometheus runs, reload it."""
        entry = self.bed.state.get("prometheus") or {}
        intervals = entry.get("intervals") or ["1s", "1s"]
        self.dir.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(config(*intervals, self._targets()), sort_keys=False)
        (self.dir / "prometheus.yml").write_text(text)
        if self.pid() is not None:
            self.reload()

    def set_rules(self, files: dict[str, str | dict]) -> None:
        """Replace the loaded rule files with ``files`` (name -> YAML text or dict) and reload."""
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        for old in self.rules_dir.glob("*.yml"):
            old.unlink()
        for name, content in files.items():
            text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
            (self.rules_dir / f"{name}.yml").write_text(text)
        self.reload()

    # ----------------------------------------------------------- process

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
        except (OSError, ValueError):
            return None
        return pid if Path(exe).name == "prometheus" else None

    def up(self, scrape_interval: str = "1s", evaluation_interval: str = "1s") -> str:
        """Start Prometheus unless it runs; wait until it answers. Returns its URL. Idempotent."""
        from .launcher import _free_ports  # the launcher imports this module for its hook

        state = self.bed.state
        entry = state.setdefault("prometheus", {})
        if not entry.get("bin_dir") or not Path(entry["bin_dir"], "prometheus").exists():
            entry["bin_dir"] = str(build())
        entry.setdefault("port", _free_ports(1)[0])
        entry["intervals"] = [scrape_interval, evaluation_interval]
        self.bed._save()
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        running = self.pid() is not None
        self._configure()
        if not running:
            with open(self.log_file, "ab") as out:
                proc = subprocess.Popen(
                    [
                        str(Path(entry["bin_dir"]) / "prometheus"),
                        f"--config.file={self.dir / 'prometheus.yml'}",
                        f"--storage.tsdb.path={self.dir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{entry['port']}",
                        "--web.enable-lifecycle",  # POST /-/reload after new rule files
                        "--storage.tsdb.retention.time=1d",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=self.dir,
                )
            self.pid_file.write_text(str(proc.pid))
        self._wait_ready()
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise PrometheusError(f"prometheus exited; see {self.log_file}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise PrometheusError(f"prometheus not ready after {READY_TIMEOUT:.0f}s; see {self.log_file}")

    def down(self, timeout: float = 20) -> bool:
        """Stop Prometheus (its data stays until the testbed is purged); True if it was running."""
        from .launcher import _end

        pid = self.pid()
        if pid is None:
            return False
        _end([pid], os.kill, timeout)
        return True

    def purge(self) -> None:
        self.down()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------------- API

    def _call(self, path: str, params: dict | None = None, method: str = "GET") -> dict:
        url = f"{self.url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                body = resp.read()
        except urllib.error.HTTPError as err:
            raise PrometheusError(f"{method} {path} {params or ''}: {err.code} {err.read().decode()[:500]}") from err
        return json.loads(body) if body else {}

    def reload(self) -> None:
        """Load the configuration and rule files again; an invalid rule file is an error here."""
        self._call("/-/reload", method="POST")

    def query(self, promql: str) -> list[dict]:
        """The instant vector (or scalar as one sample) ``promql`` gives now."""
        data = self._call("/api/v1/query", {"query": promql})["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[dict]:
        """The range vector ``promql`` gives from ``start`` to ``end`` (Unix seconds), every ``step`` s."""
        params = {"query": promql, "start": start, "end": end, "step": step}
        return self._call("/api/v1/query_range", params)["data"]["result"]

    def alerts(self) -> list[dict]:
        """Alerts pending or firing now (``/api/v1/alerts``)."""
        return self._call("/api/v1/alerts")["data"]["alerts"]

    def targets(self) -> list[dict]:
        return self._call("/api/v1/targets")["data"]["activeTargets"]

    def rule_groups(self) -> list[dict]:
        return self._call("/api/v1/rules")["data"]["groups"]
