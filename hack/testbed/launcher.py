"""Real local Kubernetes clusters for TMC: one hub and N members (DESIGN.md section 6).

Every cluster runs upstream binaries built by build.sh: etcd and kube-apiserver
(TLS, RBAC) and kube-controller-manager. The hub's controller-manager runs only
the namespace, garbage-collector and service-account controllers, so the hub
has no workload controllers (like kcp). Members also run kube-scheduler and
kwok, and get fake nodes of declared capacity with region/zone labels, so pods
become Running and Deployments report available replicas.

One toxiproxy server fronts every API server. Each cluster gets two admin
kubeconfigs: ``<cluster>.kubeconfig`` through its proxy (cut it to partition
the cluster) and ``<cluster>-direct.kubeconfig`` straight to the API server.

All state (ports, certificates, data, logs, pid files) lives in one state
directory; two testbeds in two state directories never share a port.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import pki

HERE = Path(__file__).resolve().parent
HUB = "hub"
REGIONS = ("us-east", "us-west", "eu-central", "ap-south", "sa-east", "af-south")
# Per member, cycled: (cpu per node, memory per node, pods per node).
NODE_SHAPES = (("16", "64Gi", "500"), ("8", "32Gi", "500"), ("32", "128Gi", "500"))
NODES_PER_MEMBER = 3
HUB_CONTROLLERS = "namespace,garbagecollector,serviceaccount,serviceaccount-token,clusterrole-aggregation"
SERVICE_CIDR = "10.96.0.0/16"
READY_TIMEOUT = float(os.environ.get("TMC_TESTBED_READY_TIMEOUT", "180"))


def _audit():
    """hack/testbed/audit.py, imported when needed (``python -m hack.testbed.audit`` imports this
    package first: importing it here already would load it twice)."""
    from . import audit

    return audit


class TestbedError(RuntimeError):
    """Something the testbed could not do; the message says what and where to look."""


@dataclass(frozen=True)
class Component:
    cluster: str
    name: str  # etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, toxiproxy


def build_binaries() -> Path:
    """The directory of the testbed binaries, building them first when missing."""
    override = os.environ.get("TMC_TESTBED_BIN")
    if override:
        return Path(override)
    result = subprocess.run(["bash", str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise TestbedError("building the testbed binaries failed (hack/testbed/build.sh); see its output above")
    return Path(result.stdout.strip().splitlines()[-1])


def _free_ports(count: int) -> list[int]:
    """Ports the kernel hands out now, all distinct (sockets held until all are chosen)."""
    sockets = []
    try:
        for _index in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited completely (a zombie has; one still in exit, with its files and
    working directory, has not — its /proc/PID/exe is already unreadable, so ``pid()`` cannot tell)."""
    fields = _stat(pid)
    return fields is None or fields[0] in ("Z", "X")


def _end(pids: list[int], send, timeout: float, first: int | None = signal.SIGTERM) -> None:
    """``send(pid, first)`` to each (None: already sent), wait up to ``timeout`` s, SIGKILL what is
    left, and wait until every one is gone."""
    for pid in pids if first is not None else ():
        with contextlib.suppress(ProcessLookupError):
            send(pid, first)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(_gone(pid) for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        if not _gone(pid):
            with contextlib.suppress(ProcessLookupError):
                send(pid, signal.SIGKILL)
    while not all(_gone(pid) for pid in pids):
        time.sleep(0.05)


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Testbed:
    """One hub and ``members`` member clusters whose state lives in ``state_dir``."""

    def __init__(self, state_dir: os.PathLike | str, members: int = 3):
        self.dir = Path(state_dir).resolve()
        self.requested_members = members
        self._state: dict | None = None

    # ------------------------------------------------------------------ state

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def state(self) -> dict:
        if self._state is None:
            if not self.state_file.exists():
                raise TestbedError(f"no testbed in {self.dir}: run `python -m hack.testbed up` first")
            self._state = json.loads(self.state_file.read_text())
        return self._state

    def _save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state, indent=2, sort_keys=True))
        tmp.replace(self.state_file)

    @property
    def members(self) -> list[str]:
        return list(self.state["members"])

    @property
    def clusters(self) -> list[str]:
        return [HUB, *self.members]

    def kubeconfig(self, cluster: str, direct: bool = False) -> Path:
        """Admin kubeconfig of a cluster: through its toxiproxy proxy, or direct."""
        if cluster not in self.state["clusters"]:
            raise TestbedError(f"unknown cluster {cluster!r}; the testbed has {', '.join(self.clusters)}")
        return self.dir / "kubeconfigs" / (f"{cluster}-direct.kubeconfig" if direct else f"{cluster}.kubeconfig")

    def server(self, cluster: str, direct: bool = False) -> str:
        ports = self.state["clusters"][cluster]["ports"]
        return f"https://127.0.0.1:{ports['apiserver' if direct else 'proxy']}"

    def _cluster_dir(self, cluster: str) -> Path:
        return self.dir / cluster

    @property
    def audit_dir(self) -> Path:
        """Where the hub's audit log and its rotated backups are (hack/testbed/audit.py)."""
        return self.audit_dir_of(HUB)

    def audit_dir_of(self, cluster: str) -> Path:
        """Where a cluster's API server writes its audit log: the hub's, and each member's (the
        syncers' member writes, counted by user agent)."""
        return _audit().log_dir(self._cluster_dir(cluster))

    def _new_state(self, bin_dir: Path) -> dict:
        members = [f"member{i}" for i in range(1, self.requested_members + 1)]
        per_cluster = ("etcd", "etcd_peer", "apiserver", "proxy", "controller_manager", "scheduler")
        ports = iter(_free_ports(1 + len(per_cluster) * (1 + len(members))))
        state = {
            "version": 1,
            "bin_dir": str(bin_dir),
            "members": members,
            "toxiproxy": {"port": next(ports)},
            "audit": _audit().enabled(),  # every API server's audit log (hack/testbed/audit.py)
            "clusters": {},
        }
        for index, cluster in enumerate([HUB, *members]):
            state["clusters"][cluster] = {
                "role": "hub" if cluster == HUB else "member",
                "region": None if cluster == HUB else REGIONS[(index - 1) % len(REGIONS)],
                "ports": {name: next(ports) for name in per_cluster},
            }
        return state

    # --------------------------------------------------------------- processes

    def _pid_file(self, c: Component) -> Path:
        return self._cluster_dir(c.cluster) / f"{c.name}.pid"

    def log_file(self, cluster: str, name: str) -> Path:
        return self._cluster_dir(cluster) / f"{name}.log"

    def pid(self, c: Component) -> int | None:
        """The component's pid when it is running (and really is that binary)."""
        try:
            pid = int(self._pid_file(c).read_text())
            # /proc/PID/exe, not cmdline: right after exec the kernel has closed
            # Popen's pipe but may not have published the new argv yet, while
            # the executable link is already set.
            exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
        except (OSError, ValueError):
            return None
        if Path(exe).name != c.name or _gone(pid):
            return None
        return pid

    def components(self) -> list[Component]:
        result = [Component(HUB, "toxiproxy")]
        for cluster in self.clusters:
            names = ["etcd", "kube-apiserver", "kube-controller-manager"]
            if cluster != HUB:
                names += ["kube-scheduler", "kwok"]
            result += [Component(cluster, n) for n in names]
        return result

    def _start(self, c: Component, args: list[str]) -> int:
        binary = Path(self.state["bin_dir"]) / c.name
        log = self.log_file(c.cluster, c.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [str(binary), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self._cluster_dir(c.cluster),
            )
        self._pid_file(c).write_text(str(proc.pid))
        return proc.pid

    def _ensure(self, c: Component) -> bool:
        """Start the component unless it runs; True when it was started now."""
        if self.pid(c):
            return False
        for port in self._ports_of(c):
            if _port_in_use(port):
                raise TestbedError(
                    f"{c.cluster}/{c.name}: port {port} is taken by another process; "
                    f"run `python -m hack.testbed down --state {self.dir}` and `up` again"
                )
        self._start(c, self._args(c))
        return True

    def _ports_of(self, c: Component) -> list[int]:
        if c.name == "toxiproxy":
            return [self.state["toxiproxy"]["port"]]
        p = self.state["clusters"][c.cluster]["ports"]
        return {
            "etcd": [p["etcd"], p["etcd_peer"]],
            "kube-apiserver": [p["apiserver"]],
            "kube-controller-manager": [p["controller_manager"]],
            "kube-scheduler": [p["scheduler"]],
        }.get(c.name, [])

    def stop(self, c: Component, sig: int = signal.SIGTERM, timeout: float = 20) -> bool:
        """Stop one component (SIGTERM, then SIGKILL after ``timeout``); True if it was running."""
        pid = self.pid(c)
        if not pid:
            return False
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return False
        _end([pid], os.killpg, timeout, first=None)
        return True

    def start(self, c: Component) -> None:
        """Start one stopped component again with its recorded ports and data, and wait for it."""
        self._ensure(c)
        self._wait_component(c)

    # ----------------------------------------------------------- arguments

    def _args(self, c: Component) -> list[str]:
        cdir = self._cluster_dir(c.cluster)
        pki_dir = self.dir / "pki"
        if c.name == "toxiproxy":
            return ["-host", "127.0.0.1", "-port", str(self.state["toxiproxy"]["port"])]
        p = self.state["clusters"][c.cluster]["ports"]
        admin = str(self.kubeconfig(c.cluster, direct=True))
        if c.name == "etcd":
            client, peer = f"http://127.0.0.1:{p['etcd']}", f"http://127.0.0.1:{p['etcd_peer']}"
            return [
                "--name",
                c.cluster,
                "--data-dir",
                str(cdir / "etcd-data"),
                "--listen-client-urls",
                client,
                "--advertise-client-urls",
                client,
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
                "--initial-cluster",
                f"{c.cluster}={peer}",
                "--unsafe-no-fsync",
                "--log-level",
                "warn",
                "--quota-backend-bytes",
                str(4 * 1024**3),
            ]
        if c.name == "kube-apiserver":
            return [
                f"--etcd-servers=http://127.0.0.1:{p['etcd']}",
                f"--secure-port={p['apiserver']}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--tls-cert-file={cdir / 'apiserver.crt'}",
                f"--tls-private-key-file={cdir / 'apiserver.key'}",
                f"--client-ca-file={pki_dir / 'ca.crt'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={cdir / 'sa.pub'}",
                f"--service-account-signing-key-file={cdir / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                f"--cert-dir={cdir / 'apiserver-certs'}",
                "--profiling=false",
                "--v=0",
            ] + (_audit().apiserver_args(cdir) if self.state.get("audit", True) else [])
        if c.name == "kube-controller-manager":
            args = [
                f"--kubeconfig={admin}",
                f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}",
                f"--secure-port={p['controller_manager']}",
                "--bind-address=127.0.0.1",
                "--leader-elect=false",
                f"--service-account-private-key-file={cdir / 'sa.key'}",
                f"--root-ca-file={pki_dir / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki_dir / 'ca.crt'}",
                f"--cluster-signing-key-file={pki_dir / 'ca.key'}",
                f"--cert-dir={cdir / 'kcm-certs'}",
                "--profiling=false",
                "--v=0",
            ]
            if c.cluster == HUB:
                args.append(f"--controllers={HUB_CONTROLLERS}")
            return args
        if c.name == "kube-scheduler":
            return [
                f"--kubeconfig={admin}",
                f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}",
                f"--secure-port={p['scheduler']}",
                "--bind-address=127.0.0.1",
                "--leader-elect=false",
                f"--cert-dir={cdir / 'scheduler-certs'}",
                "--profiling=false",
                "--v=0",
            ]
        if c.name == "kwok":
            # Pod IPs are labels only: nothing ever connects to them.
            return [
                f"--kubeconfig={admin}",
                "--manage-all-nodes=true",
                "--cidr=10.0.0.1/16",
                "--node-ip=10.0.0.1",
                "--node-lease-duration-seconds=40",
            ]
        raise TestbedError(f"unknown component {c.name}")

    # ------------------------------------------------------------ set-up files

    def _write_pki_and_kubeconfigs(self) -> None:
        pki_dir = self.dir / "pki"
        ca_crt = pki.ensure_ca(pki_dir)[0]
        admin_crt, admin_key = pki.issue(pki_dir, pki_dir, "admin", "tmc-testbed-admin", organization="system:masters")
        for cluster in self.clusters:
            cdir = self._cluster_dir(cluster)
            pki.issue(
                cdir,
                pki_dir,
                "apiserver",
                f"{cluster}-apiserver",
                server_names=(
                    "localhost",
                    "kubernetes",
                    "kubernetes.default",
                    "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local",
                ),
                server_ips=("127.0.0.1", "10.96.0.1"),
            )
            pki.ensure_service_account_keys(cdir)
            for direct in (False, True):
                path = self.kubeconfig(cluster, direct)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(
                    yaml.safe_dump(
                        _kubeconfig(cluster, self.server(cluster, direct), ca_crt, admin_crt, admin_key),
                        sort_keys=False,
                    )
                )
                path.chmod(0o600)

    # --------------------------------------------------------------- HTTP

    def _ssl(self) -> ssl.SSLContext:
        pki_dir = self.dir / "pki"
        ctx = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
        ctx.load_cert_chain(str(pki_dir / "admin.crt"), str(pki_dir / "admin.key"))
        return ctx

    def request(
        self, cluster: str, method: str, path: str, body: dict | None = None, direct: bool = True, timeout: float = 10
    ):
        """One admin call to a cluster's API server; returns (status, parsed JSON or text)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.server(cluster, direct) + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, context=self._ssl(), timeout=timeout) as resp:
                raw = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read().decode(), err.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def _toxiproxy(self, method: str, path: str, body: dict | None = None):
        url = f"http://127.0.0.1:{self.state['toxiproxy']['port']}{path}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read().decode()
        return json.loads(raw) if raw else None

    # ------------------------------------------------------------ waiting

    def _wait(self, what: str, check, timeout: float = READY_TIMEOUT, log: Path | None = None) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (OSError, ssl.SSLError, urllib.error.URLError, ValueError) as err:
                last = err
            time.sleep(0.3)
        hint = f"; see {log}" if log else ""
        raise TestbedError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last}){hint}")

    def _etcd_healthy(self, cluster: str) -> bool:
        url = f"http://127.0.0.1:{self.state['clusters'][cluster]['ports']['etcd']}/health"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.loads(resp.read()).get("health") == "true"

    def _apiserver_ready(self, cluster: str, direct: bool = True) -> bool:
        status, body = self.request(cluster, "GET", "/readyz", direct=direct, timeout=5)
        return status == 200 and str(body).strip() == "ok"

    def _default_service_account(self, cluster: str) -> bool:
        status = self.request(cluster, "GET", "/api/v1/namespaces/default/serviceaccounts/default")[0]
        return status == 200

    def _nodes_ready(self, cluster: str) -> bool:
        status, body = self.request(cluster, "GET", "/api/v1/nodes")
        if status != 200:
            return False
        ready = [
            n
            for n in body.get("items", [])
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))
        ]
        return len(ready) >= NODES_PER_MEMBER

    def _proxy_ok(self, cluster: str) -> bool:
        return self._apiserver_ready(cluster, direct=False)

    def _wait_component(self, c: Component) -> None:
        log = self.log_file(c.cluster, c.name)
        self._ensure_alive(c)
        if c.name == "etcd":
            self._wait(f"etcd of {c.cluster}", lambda: self._etcd_healthy(c.cluster), log=log)
        elif c.name == "kube-apiserver":
            self._wait(
                f"kube-apiserver of {c.cluster}", lambda: self._alive_and(c, self._apiserver_ready, c.cluster), log=log
            )
        elif c.name == "toxiproxy":
            self._wait("toxiproxy", lambda: self._toxiproxy("GET", "/version") is not None, log=log)

    def _ensure_alive(self, c: Component) -> None:
        for _attempt in range(10):  # a moment of grace for a process in the middle of exec
            if self.pid(c):
                return
            time.sleep(0.1)
        if not self.pid(c):
            raise TestbedError(f"{c.cluster}/{c.name} exited at start; see {self.log_file(c.cluster, c.name)}")

    def _alive_and(self, c: Component, check, *args) -> bool:
        self._ensure_alive(c)
        return check(*args)

    # ---------------------------------------------------------------- nodes

    def _create_nodes(self, cluster: str) -> None:
        index = self.members.index(cluster)
        region = self.state["clusters"][cluster]["region"]
        cpu, memory, pods = NODE_SHAPES[index % len(NODE_SHAPES)]
        for j in range(NODES_PER_MEMBER):
            node = _fake_node(f"{cluster}-node-{j + 1}", region, f"{region}-{'abc'[j % 3]}", cpu, memory, pods)
            status, body = self.request(cluster, "POST", "/api/v1/nodes", node)
            if status not in (201, 409):
                raise TestbedError(f"creating node {node['metadata']['name']} on {cluster} failed: {body}")

    def _sync_proxies(self) -> None:
        proxies = [
            {
                "name": f"{cluster}-apiserver",
                "enabled": True,
                "listen": f"127.0.0.1:{self.state['clusters'][cluster]['ports']['proxy']}",
                "upstream": f"127.0.0.1:{self.state['clusters'][cluster]['ports']['apiserver']}",
            }
            for cluster in self.clusters
        ]
        existing = self._toxiproxy("GET", "/proxies") or {}
        missing = [p for p in proxies if p["name"] not in existing]
        if missing:
            self._toxiproxy("POST", "/populate", missing)

    # ---------------------------------------------------------------- verbs

    def up(self) -> dict:
        """Start whatever is not running and wait until every cluster is ready. Idempotent."""
        if self.state_file.exists():
            state = self.state
            if len(state["members"]) != self.requested_members and not any(self.pid(c) for c in self.components()):
                self._state = self._new_state(build_binaries())
        else:
            self._state = self._new_state(build_binaries())
        if not Path(self.state["bin_dir"], "kube-apiserver").exists():
            self._state["bin_dir"] = str(build_binaries())
        self._save()
        self._write_pki_and_kubeconfigs()
        toxiproxy = Component(HUB, "toxiproxy")
        self._ensure(toxiproxy)
        for cluster in self.clusters:
            self._ensure(Component(cluster, "etcd"))
        for cluster in self.clusters:
            self._wait_component(Component(cluster, "etcd"))
            self._ensure(Component(cluster, "kube-apiserver"))
        for cluster in self.clusters:
            self._wait_component(Component(cluster, "kube-apiserver"))
            self._ensure(Component(cluster, "kube-controller-manager"))
            if cluster != HUB:
                self._ensure(Component(cluster, "kube-scheduler"))
                self._ensure(Component(cluster, "kwok"))
                self._create_nodes(cluster)
        self._wait(
            "toxiproxy", lambda: self._toxiproxy("GET", "/version") is not None, log=self.log_file(HUB, "toxiproxy")
        )
        self._sync_proxies()
        for cluster in self.clusters:
            self._wait(f"the proxy in front of {cluster}", lambda c=cluster: self._proxy_ok(c))
            self._wait(
                f"the default service account on {cluster} (controller-manager)",
                lambda c=cluster: self._default_service_account(c),
                log=self.log_file(cluster, "kube-controller-manager"),
            )
            if cluster != HUB:
                self._wait(
                    f"{NODES_PER_MEMBER} Ready nodes on {cluster} (kwok)",
                    lambda c=cluster: self._nodes_ready(c),
                    log=self.log_file(cluster, "kwok"),
                )
        return self.status()

    def destroy_hub(self) -> float:
        """Disaster: the hub's controller-manager, API server and etcd are stopped and etcd's data
        is removed. Returns the monotonic time at which the hub stopped answering."""
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            self.stop(Component(HUB, name), sig=signal.SIGKILL, timeout=5)
        lost = time.monotonic()
        import shutil

        shutil.rmtree(self._cluster_dir(HUB) / "etcd-data", ignore_errors=True)
        return lost

    def fresh_hub(self) -> None:
        """Start an empty hub on the same ports and certificates (after ``destroy_hub``) and wait
        until it serves and its controller-manager made the default service account."""
        etcd, apiserver, kcm = (Component(HUB, n) for n in ("etcd", "kube-apiserver", "kube-controller-manager"))
        self.start(etcd)
        self.start(apiserver)
        self.start(kcm)
        self._wait(
            "the default service account on the fresh hub (controller-manager)",
            lambda: self._default_service_account(HUB),
            log=self.log_file(HUB, "kube-controller-manager"),
        )

    def down(self, purge: bool = True) -> list[str]:
        """Stop every process of this testbed; with ``purge`` remove its data too. Returns what was stopped."""
        if not self.state_file.exists():
            return []
        from .prometheus import Prometheus  # started on demand (up --with-prometheus); stopped with the testbed

        stopped = ["hub/prometheus"] if Prometheus(self).down() else []
        stopped += [f"guest/{pid}" for pid in self._stop_guests()]
        for c in reversed(self.components()):
            if self.stop(c):
                stopped.append(f"{c.cluster}/{c.name}")
        if purge:
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)
            self._state = None
        return stopped

    def _stop_guests(self, timeout: float = 20) -> list[int]:
        """Stop the processes that others started with their files in this state directory — the
        playbooks' supervised controllers and syncers (``make demo``, chaos, upgrade) — before the
        clusters they talk to go away. Returns their pids."""
        marker = str(self.dir) + "/"
        ours = {pid for pid in (self.pid(c) for c in self.components()) if pid}  # each leads its own group
        guests = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            fields = _stat(int(entry.name))
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and fields and fields[0] not in ("Z", "X") and int(fields[2]) not in ours:
                guests.append(int(entry.name))
        _end(guests, os.kill, timeout)
        return guests

    def status(self) -> dict:
        """Which processes run (pid, resident memory) and each cluster's kubeconfigs."""
        clusters: dict = {}
        for c in self.components():
            pid = self.pid(c)
            entry = clusters.setdefault(c.cluster, {"components": {}})
            entry["components"][c.name] = {"pid": pid, "rss_mb": _rss_mb(pid) if pid else None}
        for cluster in self.clusters:
            clusters[cluster].update(
                {
                    "role": self.state["clusters"][cluster]["role"],
                    "region": self.state["clusters"][cluster]["region"],
                    "kubeconfig": str(self.kubeconfig(cluster)),
                    "direct_kubeconfig": str(self.kubeconfig(cluster, direct=True)),
                    "server": self.server(cluster),
                    "direct_server": self.server(cluster, direct=True),
                }
            )
        running = all(v["pid"] for e in clusters.values() for v in e["components"].values())
        return {
            "state_dir": str(self.dir),
            "running": running,
            "bin_dir": self.state["bin_dir"],
            "toxiproxy": f"http://127.0.0.1:{self.state['toxiproxy']['port']}",
            "hub": HUB,
            "members": self.members,
            "clusters": clusters,
        }

    def env(self) -> dict[str, str]:
        """Environment variables that point tools and tests at this testbed."""
        variables = {
            "TMC_TESTBED_STATE": str(self.dir),
            "TMC_HUB_KUBECONFIG": str(self.kubeconfig(HUB)),
            "TMC_MEMBERS": ",".join(self.members),
            "TMC_TESTBED_BIN": self.state["bin_dir"],
        }
        if self.state.get("audit", True):
            variables["TMC_HUB_AUDIT_LOG"] = str(self.audit_dir / _audit().LOG_NAME)
        if self.state.get("prometheus"):
            variables["TMC_PROMETHEUS_URL"] = f"http://127.0.0.1:{self.state['prometheus']['port']}"
        for member in self.members:
            variables[f"TMC_{member.upper()}_KUBECONFIG"] = str(self.kubeconfig(member))
        return variables

    # --------------------------------------------------------------- chaos

    def proxy_cut(self, cluster: str) -> None:
        """Partition a cluster: its proxy stops accepting and drops open connections."""
        self._toxiproxy("POST", f"/proxies/{cluster}-apiserver", {"enabled": False})

    def proxy_restore(self, cluster: str) -> None:
        self._toxiproxy("POST", f"/proxies/{cluster}-apiserver", {"enabled": True})

    def proxy_latency(self, cluster: str, latency_ms: int, jitter_ms: int = 0) -> None:
        """Add latency to responses from a cluster's API server (through its proxy)."""
        self._toxiproxy(
            "POST",
            f"/proxies/{cluster}-apiserver/toxics",
            {
                "name": "latency",
                "type": "latency",
                "stream": "downstream",
                "attributes": {"latency": latency_ms, "jitter": jitter_ms},
            },
        )

    def proxy_reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._toxiproxy("POST", "/reset")


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _kubeconfig(cluster: str, server: str, ca: Path, cert: Path, key: Path) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": f"{cluster}-admin", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"{cluster}-admin"}}],
    }


def _fake_node(name: str, region: str, zone: str, cpu: str, memory: str, pods: str) -> dict:
    resources = {"cpu": cpu, "memory": memory, "pods": pods}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/region": region,
                "topology.kubernetes.io/zone": zone,
            },
        },
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {"kubeletVersion": "fake", "operatingSystem": "linux", "architecture": "amd64"},
        },
    }
