#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: daemon_process
short_description: Run a long-lived local process under a small supervisor, idempotently
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Starts, stops or restarts one long-running process on the target host, for labs, demos and tests where
    neither systemd nor Kubernetes runs it. The roles C(tmc.multicluster.controller) and
    C(tmc.multicluster.syncer) use it to run TMC's daemons in their C(tmc_runtime=process) mode.
  - The process runs under a supervisor, a small Python program that the module starts detached (a session of
    its own) and leaves running. The supervisor restarts the process per O(restart_policy) with an exponential
    backoff, forwards SIGTERM to it on stop and sends SIGKILL after O(stop_timeout).
  - The supervisor keeps three files next to O(pid_file) (C(NAME.pid) the process's pid, C(NAME.supervisor.pid)
    its own, C(NAME.state.json) what runs and how it last ended) and appends the process's output to O(log_file).
  - A process is identified by its O(name) and pid file. With O(state=started) a process already running with the
    same O(argv), O(env), O(chdir), O(restart_policy), O(stop_timeout) and O(log_file) is left alone; when any of
    them differs, or when only its supervisor runs (the process keeps ending), it is restarted with the new ones.
  - The task succeeds only when the process it started runs and is ready. A program that cannot be run, a port
    (O(ports), and the port of O(wait_ready_url)) that another process holds before the start, a process that ends
    within O(start_seconds) or before O(wait_ready_url) answers, or a readiness URL answered by a process other
    than the one started, all fail the task with the process's own last error message (RV(last_error)); its
    supervisor is then stopped, so that nothing keeps restarting behind a failed task.
  - Environment values whose names look like credentials (containing C(TOKEN), C(SECRET), C(PASSWORD), C(AUTH),
    C(CREDENTIAL), C(PRIVATE) or a C(KEY) word) are masked in the result, the diff and the state file. They are
    still visible to anyone who may read the process's environment; pass real secrets as files (for example the
    daemons' C(--token-file)).
options:
  name:
    description:
      - The process's name (letters, digits, C(.), C(_) and C(-)); it names the default pid and log files.
    type: str
    required: true
  argv:
    description:
      - The program and its arguments, run without a shell. Required unless O(state=stopped).
    type: list
    elements: str
  state:
    description:
      - V(started) makes sure the process runs with these settings (restarting it when they changed).
      - V(stopped) stops the process and its supervisor and removes their pid files.
      - V(restarted) stops it when it runs, then starts it; it always reports a change.
    type: str
    choices: [started, stopped, restarted]
    default: started
  pid_file:
    description:
      - Where the process's pid is kept while it runs; the supervisor's pid file and the state file go next to it.
      - Defaults to C(~/.local/state/tmc/NAME.pid).
    type: path
  log_file:
    description:
      - The process's standard output and error are appended to this file, and so are the supervisor's own
        messages (JSON lines). Defaults to C(NAME.log) in the directory of O(pid_file).
    type: path
  env:
    description:
      - Environment variables set for the process, on top of the environment the module runs in.
    type: dict
    default: {}
  chdir:
    description: The process's working directory. Defaults to C(/).
    type: path
  restart_policy:
    description:
      - When the supervisor restarts the process after it ended by itself.
      - V(always) after any exit, V(on-failure) after a non-zero exit code or a signal, V(never) not at all (the
        supervisor then exits too, and the next O(state=started) run starts the process again).
      - Restarts wait 1, 2, 4 ... seconds (at most 30) after quick exits in a row.
    type: str
    choices: [always, on-failure, never]
    default: on-failure
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL when the process is stopped.
    type: float
    default: 30
  wait_ready_url:
    description:
      - After starting (or finding) the process, wait until this URL answers HTTP 200, for example a daemon's
        C(http://127.0.0.1:8081/readyz). No proxy is used. Not done in check mode.
    type: str
  wait_timeout:
    description: How many seconds to wait for O(wait_ready_url) (and for the process to start) at most.
    type: float
    default: 60
  ports:
    description:
      - TCP ports the process listens on (the port of O(wait_ready_url) is added). Before the process is started,
        each must be free; one that is taken fails the task and names the process that holds it, and nothing is
        started.
      - After O(wait_ready_url) answers, the module checks (where C(/proc) tells) that the process it started
        holds that port, so that another process answering on it is not taken for this one.
    type: list
    elements: int
    default: []
  start_seconds:
    description:
      - A started process must keep running this long (and, with O(wait_ready_url), until that URL answers) to count
        as started, as supervisord's C(startsecs). One that ends sooner fails the task with its own last error
        message, and its supervisor is stopped (nothing is left crash-looping).
    type: float
    default: 1
attributes:
  check_mode:
    support: full
    description: Reports whether the process would be started, restarted or stopped; nothing is started or stopped.
  diff_mode:
    support: full
    description: Returns the process's argv, environment names, working directory and policy before and after.
  idempotent:
    support: full
    description:
      - With O(state=started) or O(state=stopped) a repeated run reports no change. O(state=restarted) always
        restarts.
notes:
  - Runs on POSIX hosts. The supervisor uses the Python that runs the module and only its standard library.
  - A host reboot ends the process and its supervisor; the next O(state=started) run starts them again. For a
    service that survives reboots use systemd (the roles install a unit where systemd runs).
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
# argv runs without a shell: expand ~ here. PYTHONPATH is where the collection is installed
# (ansible-galaxy's default: ~/.ansible/collections).
- name: Run a TMC syncer for member1 as a supervised local process
  tmc.multicluster.daemon_process:
    name: tmc-syncer-member1
    argv:
      - "{{ ansible_playbook_python }}"
      - -m
      - ansible_collections.tmc.multicluster.plugins.module_utils.daemons
      - syncer
      - --cluster-name=member1
      - --kubeconfig={{ '~/.config/tmc/member1-syncer.kubeconfig' | ansible.builtin.expanduser }}
      - --downstream-kubeconfig={{ '~/.kube/member1.kubeconfig' | ansible.builtin.expanduser }}
      - --health-port=9471
    env:
      PYTHONPATH: "{{ '~/.ansible/collections' | ansible.builtin.expanduser }}"
    restart_policy: always
    wait_ready_url: http://127.0.0.1:9471/readyz

- name: Stop it (SIGTERM, then SIGKILL after 30 seconds)
  tmc.multicluster.daemon_process:
    name: tmc-syncer-member1
    state: stopped
"""

RETURN = r"""
action:
  description: What the run did (or, in check mode, would do).
  returned: always
  type: str
  choices: [none, started, restarted, stopped]
  sample: started
running:
  description: Whether the supervisor runs after the run (in check mode, whether it would).
  returned: always
  type: bool
pid:
  description: The supervised process's pid, or null when it is not running (or in check mode before it starts).
  returned: always
  type: int
  sample: 41231
supervisor_pid:
  description: The supervisor's pid, or null when it is not running.
  returned: always
  type: int
  sample: 41230
pid_file:
  description: The process's pid file.
  returned: always
  type: str
  sample: /home/tmc/.local/state/tmc/tmc-syncer-member1.pid
log_file:
  description: The log file of the process and its supervisor.
  returned: always
  type: str
  sample: /home/tmc/.local/state/tmc/tmc-syncer-member1.log
restarts:
  description: How often the supervisor restarted the process since it started it.
  returned: when the supervisor runs
  type: int
  sample: 0
last_exit:
  description: How the process last ended, as the supervisor recorded it (C(code), C(reason), C(at)).
  returned: when known
  type: dict
  sample: {code: 1, reason: exit code 1, at: "2026-11-23T04:45:00.000+00:00"}
last_error:
  description:
    - When the task failed because the process did not start, its own last error line (a daemon's log message,
      or why the program could not be run).
  returned: failure
  type: str
  sample: "refusing to start: feature gate TMC is off; set TMC=true to use this"
ready:
  description: Whether O(wait_ready_url) answered 200 (from the process that was started).
  returned: when O(wait_ready_url) is set and not in check mode
  type: bool
diff:
  description: Before and after (argv, environment with credentials masked, chdir, policy, whether it runs).
  returned: diff mode
  type: dict
"""

import contextlib
import hashlib
import json
import os
import pwd
import re
import signal
import sys
import time
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.tmc.multicluster.plugins.module_utils import ports as port_owners
from ansible_collections.tmc.multicluster.plugins.module_utils import supervisor as supervisor_code

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
SENSITIVE = re.compile(r"token|secret|passw|pwd|credential|auth|private|apikey|(^|_)key($|_)", re.IGNORECASE)
MASK = "********"
DEFAULT_DIR = ".local/state/tmc"  # under the home directory

ARGSPEC = {
    "name": {"type": "str", "required": True},
    "argv": {"type": "list", "elements": "str"},
    "state": {"type": "str", "choices": ["started", "stopped", "restarted"], "default": "started"},
    "pid_file": {"type": "path"},
    "log_file": {"type": "path"},
    "env": {"type": "dict", "default": {}},
    "chdir": {"type": "path"},
    "restart_policy": {"type": "str", "choices": ["always", "on-failure", "never"], "default": "on-failure"},
    "stop_timeout": {"type": "float", "default": 30},
    "wait_ready_url": {"type": "str"},
    "wait_timeout": {"type": "float", "default": 60},
    "ports": {"type": "list", "elements": "int", "default": []},
    "start_seconds": {"type": "float", "default": 1},
}


def masked_env(env: dict) -> dict:
    return {k: (MASK if SENSITIVE.search(k) and v else v) for k, v in sorted(env.items())}


class Files:
    """The files of one supervised process, all derived from its pid file."""

    def __init__(self, name: str, pid_file: str | None, log_file: str | None):
        base_dir = os.path.join(os.environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir, DEFAULT_DIR)
        self.pid = os.path.abspath(pid_file or os.path.join(base_dir, f"{name}.pid"))
        self.log = os.path.abspath(log_file or os.path.join(os.path.dirname(self.pid), f"{name}.log"))
        base = self.pid[: -len(".pid")] if self.pid.endswith(".pid") else self.pid
        self.supervisor_pid = f"{base}.supervisor.pid"
        self.state = f"{base}.state.json"
        self.directory = os.path.dirname(self.pid)

    def remove_pid_files(self) -> None:
        for path in (self.pid, self.supervisor_pid, self.state):
            supervisor_code.remove(path)


def _read_pid(path: str) -> int | None:
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cmdline(pid: int) -> list[str] | None:
    """The process's argv from /proc, or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return [] if os.path.isdir("/proc/self") else None
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def alive(pid: int | None, expect=None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, where /proc tells, its argv passes ``expect``."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _is_zombie(pid):
        return False
    if expect is None:
        return True
    argv = _cmdline(pid)
    return True if argv is None else expect(argv)


def _same_program(cmdline: list[str], recorded: list[str]) -> bool:
    """Whether /proc's argv is the recorded one (an interpreter may stand before a script's own argv)."""
    if not recorded or cmdline == recorded:
        return True
    tail = recorded[1:]
    return bool(tail) and cmdline[-len(tail) :] == tail


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return not alive(pid)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


class DaemonProcess:
    def __init__(self, module: AnsibleModule):
        self.module = module
        p = module.params
        if not NAME.match(p["name"]):
            module.fail_json(msg=f"name {p['name']!r} is not usable in a file name: use letters, digits, '.', '_', '-'")
        self.name = p["name"]
        self.files = Files(self.name, p["pid_file"], p["log_file"])
        self.env = {str(k): "" if v is None else str(v) for k, v in (p["env"] or {}).items()}
        for key, value in self.env.items():
            if SENSITIVE.search(key) and value:
                module.no_log_values.add(value)
        self.desired = {
            "argv": list(p["argv"] or []),
            "env": self.env,
            "chdir": p["chdir"],
            "restart_policy": p["restart_policy"],
            "stop_timeout": float(p["stop_timeout"]),
            "log_file": self.files.log,
        }
        self.desired_hash = hashlib.sha256(json.dumps(self.desired, sort_keys=True).encode()).hexdigest()

    # -- what runs now

    def observe(self) -> dict:
        files = self.files
        state = supervisor_code.read_json(files.state)
        supervisor_pid = _read_pid(files.supervisor_pid)
        supervising = alive(supervisor_pid, lambda argv: files.state in argv)
        child_pid = _read_pid(files.pid)
        recorded = state.get("argv") or []
        child = alive(child_pid, lambda argv: _same_program(argv, recorded))
        return {
            "state": state,
            "supervisor_pid": supervisor_pid if supervising else None,
            "child_pid": child_pid if child else None,
            "running": supervising,
        }

    def view(self, observed: dict) -> dict:
        state = observed["state"]
        if not observed["running"] and not observed["child_pid"]:
            return {"state": "stopped"}
        return {
            "state": "running",
            "argv": state.get("argv") or [],
            "env": state.get("env") or {},
            "chdir": state.get("chdir"),
            "restart_policy": state.get("restart_policy"),
            "stop_timeout": state.get("stop_timeout"),
            "log_file": state.get("log_file"),
        }

    def desired_view(self) -> dict:
        return {"state": "running", **self.desired, "env": masked_env(self.env)}

    # -- actions

    def _script(self) -> str:
        """The supervisor's source, written next to the pid files (the module's own copy goes with the module)."""
        loader = getattr(supervisor_code, "__loader__", None)
        source = None
        if loader is not None and hasattr(loader, "get_source"):
            source = loader.get_source(supervisor_code.__name__)
        if source is None:
            with open(supervisor_code.__file__) as handle:
                source = handle.read()
        digest = hashlib.sha256(source.encode()).hexdigest()[:12]
        path = os.path.join(self.files.directory, f".tmc-supervisor-{digest}.py")
        if not os.path.exists(path):
            supervisor_code.write_atomic(path, source)
            # Copies of other versions: running supervisors read theirs at start and need it no more.
            for name in os.listdir(self.files.directory):
                if name.startswith(".tmc-supervisor-") and name.endswith(".py") and name != os.path.basename(path):
                    supervisor_code.remove(os.path.join(self.files.directory, name))
        return path

    def start(self) -> dict:
        files = self.files
        for directory in sorted({files.directory, os.path.dirname(files.log)}):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        if self.desired["chdir"] and not os.path.isdir(self.desired["chdir"]):
            self.module.fail_json(msg=f"chdir {self.desired['chdir']} is not a directory")
        if not self.desired["argv"]:
            self.module.fail_json(msg="argv is required to start the process")
        script = self._script()
        supervisor_code.write_atomic(
            files.state,
            json.dumps(
                {
                    "name": self.name,
                    "argv": self.desired["argv"],
                    "env": masked_env(self.env),
                    "chdir": self.desired["chdir"],
                    "restart_policy": self.desired["restart_policy"],
                    "stop_timeout": self.desired["stop_timeout"],
                    "log_file": files.log,
                    "config_hash": self.desired_hash,
                    "running": False,
                },
                indent=2,
                sort_keys=True,
            ),
        )
        argv = [
            sys.executable,
            script,
            "--name",
            self.name,
            "--pid-file",
            files.pid,
            "--supervisor-pid-file",
            files.supervisor_pid,
            "--state-file",
            files.state,
            "--log-file",
            files.log,
            "--restart-policy",
            self.desired["restart_policy"],
            "--stop-timeout",
            str(self.desired["stop_timeout"]),
        ]
        if self.desired["chdir"]:
            argv += ["--chdir", self.desired["chdir"]]
        proc = supervisor_code.launch_detached(argv, files.log, {**os.environ, **self.env})
        deadline = time.monotonic() + max(10.0, self.module.params["wait_timeout"])
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                reason = supervisor_code.describe_exit(proc.returncode)
                self.module.fail_json(
                    msg=f"the supervisor of {self.name} exited at once ({reason})",
                    log_tail=self.log_tail(),
                    log_file=files.log,
                )
            state = supervisor_code.read_json(files.state)
            if state.get("child_pid") or state.get("last_exit"):
                break
            time.sleep(0.05)
        return self.observe()

    def stop(self, observed: dict) -> None:
        timeout = float(self.module.params["stop_timeout"])
        supervisor_pid, child_pid = observed["supervisor_pid"], observed["child_pid"]
        if supervisor_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(supervisor_pid, signal.SIGTERM)
            if not _wait_gone(supervisor_pid, timeout + 10):
                _killpg(supervisor_pid, signal.SIGKILL)
                _wait_gone(supervisor_pid, 10)
        if child_pid and alive(child_pid):
            # No supervisor (it was killed) or it gave up: stop the process ourselves.
            _killpg(child_pid, signal.SIGTERM)
            if not _wait_gone(child_pid, timeout):
                _killpg(child_pid, signal.SIGKILL)
                _wait_gone(child_pid, 10)
        self.files.remove_pid_files()

    def wait_ready(self, url: str, pid: int | None) -> bool:
        deadline = time.monotonic() + float(self.module.params["wait_timeout"])
        last = "no answer yet"
        while True:
            try:
                resp = open_url(url, timeout=2, follow_redirects="safe", use_proxy=False)
                try:
                    if resp.status == 200:
                        self.check_served_by_own_process(url, pid)
                        return True
                    last = f"HTTP {resp.status}"
                finally:
                    resp.close()
            except urllib.error.HTTPError as err:
                last = f"HTTP {err.code}"
            except (urllib.error.URLError, OSError, UrlConnectionError) as err:
                last = str(getattr(err, "reason", err))
            observed = self.observe()
            if not observed["running"] or observed["child_pid"] != pid:
                reason = (observed["state"].get("last_exit") or {}).get("reason", "it ended")
                self.fail_start(f"exited ({reason}) before {url} answered 200 (last: {last})")
            if time.monotonic() >= deadline:
                self.fail_start(
                    f"did not answer 200 on {url} within {self.module.params['wait_timeout']} s (last: {last}); "
                    f"its last error",
                    restarts=observed["state"].get("restarts"),
                )
            time.sleep(0.25)

    def log_tail(self, lines: int = 30) -> list[str]:
        try:
            with open(self.files.log, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 16384))
                return handle.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return []

    def last_error(self) -> str:
        """The process's own last word since it was last started: its last error line (a daemon's JSON
        ``msg`` or a text line), else its last line. The supervisor's own lines are skipped."""
        lines = self.log_tail(200)
        for index in range(len(lines) - 1, -1, -1):
            if '"tmc.supervisor"' in lines[index] and '"child started"' in lines[index]:
                lines = lines[index + 1 :]
                break
        own = []
        for line in lines:
            text = line.strip()
            if not text or '"logger": "tmc.supervisor"' in text:
                continue
            try:
                entry = json.loads(text)
            except ValueError:
                entry = None
            if isinstance(entry, dict) and "msg" in entry:
                text = str(entry["msg"]) + (f": {entry['error']}" if entry.get("error") else "")
            own.append(text)
        errors = [t for t in own if re.search(r"error|refusing|cannot|traceback|exception|fatal", t, re.IGNORECASE)]
        return (errors or own or ["(it wrote nothing)"])[-1][:2000]

    def listen_ports(self) -> list[int]:
        found = list(self.module.params["ports"] or [])
        ready = port_owners.url_port(self.module.params["wait_ready_url"])
        if ready is not None and ready[0] in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "[::1]"):  # noqa: S104
            found.append(ready[1])
        return sorted(set(found))

    def check_ports_free(self) -> None:
        """Before a start: each port the process will listen on must be free, or nothing is started."""
        for port in self.listen_ports():
            if port_owners.in_use(port):
                self.module.fail_json(
                    msg=f"port {port} is already in use by {port_owners.owner_text(port)}, not by {self.name}: "
                    f"{self.name} was not started. Stop that process or give {self.name} another port",
                    port=port,
                    running=False,
                )

    def fail_start(self, why: str, error: str | None = None, **extra) -> None:
        """The process did not start: stop its supervisor (nothing crash-loops behind a failed task), fail
        with the process's own last error."""
        observed = self.observe()
        error = error or self.last_error()
        self.stop(observed)
        self.module.fail_json(
            msg=f"{self.name} {why}: {error}",
            last_error=error,
            last_exit=observed["state"].get("last_exit"),
            log_tail=self.log_tail(),
            log_file=self.files.log,
            running=False,
            **extra,
        )

    def confirm_started(self, started_pid: int | None) -> dict:
        """Wait until the process started has run ``start_seconds`` (and answered its readiness URL, when
        there is one, from its own port); fail with its own error when it ends first."""
        p = self.module.params
        if started_pid is None:  # ended before it was seen running: how, once the supervisor has recorded it
            recorded = time.monotonic() + 10
            last_exit = {}
            while not last_exit and time.monotonic() < recorded:
                last_exit = self.observe()["state"].get("last_exit") or {}
                time.sleep(0.05)
            if last_exit.get("code") == supervisor_code.CANNOT_START:
                self.fail_start("could not be started", error=last_exit.get("reason"))
            self.fail_start(f"exited ({last_exit.get('reason', 'at once')}) as it started")
        deadline = time.monotonic() + max(float(p["start_seconds"]), 0.0)
        while True:
            observed = self.observe()
            if observed["child_pid"] != started_pid:
                exit_reason = (observed["state"].get("last_exit") or {}).get("reason", "it ended")
                self.fail_start(f"exited ({exit_reason}) within {float(p['start_seconds']):g} s of its start")
            if time.monotonic() >= deadline:
                return observed
            time.sleep(0.1)

    def check_served_by_own_process(self, url: str, pid: int | None) -> None:
        ready = port_owners.url_port(url)
        if ready is None or pid is None:
            return
        ours = port_owners.served_by_session(ready[1], pid)
        if ours is False:
            self.fail_start(
                f"did not answer {url} itself: port {ready[1]} is held by {port_owners.owner_text(ready[1])}",
                port=ready[1],
            )

    # -- one run

    def run(self) -> dict:
        p = self.module.params
        want = p["state"]
        if want != "stopped" and not p["argv"]:
            self.module.fail_json(msg=f"argv is required with state={want}")
        observed = self.observe()
        present = observed["running"] or bool(observed["child_pid"])
        # A supervisor whose process does not run (it keeps ending and is waiting to restart it) is not "running".
        same = (
            observed["running"]
            and bool(observed["child_pid"])
            and observed["state"].get("config_hash") == self.desired_hash
        )
        if want == "stopped":
            action = "stopped" if present else "none"
        elif want == "restarted":
            action = "restarted" if present else "started"
        else:
            action = "none" if same else ("restarted" if present else "started")
        before = self.view(observed)
        check = self.module.check_mode
        if not check:
            if action in ("stopped", "restarted"):
                self.stop(observed)
            elif action == "none" and not present:
                self.files.remove_pid_files()  # stale files of a process that is gone
            if action in ("started", "restarted"):
                self.check_ports_free()
                observed = self.start()
                observed = self.confirm_started(observed["child_pid"])
            elif action == "stopped":
                observed = self.observe()
        result: dict = {
            "changed": action != "none",
            "action": action,
            "pid_file": self.files.pid,
            "log_file": self.files.log,
        }
        if check:
            runs = want != "stopped"
            result.update(
                running=runs,
                pid=observed["child_pid"] if action == "none" and runs else None,
                supervisor_pid=observed["supervisor_pid"] if action == "none" and runs else None,
            )
        else:
            if want != "stopped" and p["wait_ready_url"]:
                result["ready"] = self.wait_ready(p["wait_ready_url"], observed["child_pid"])
                observed = self.observe()
            result.update(
                running=observed["running"], pid=observed["child_pid"], supervisor_pid=observed["supervisor_pid"]
            )
            if observed["running"]:
                result["restarts"] = observed["state"].get("restarts", 0)
            if observed["state"].get("last_exit"):
                result["last_exit"] = observed["state"]["last_exit"]
        if self.module._diff:
            after = {"state": "stopped"} if want == "stopped" else self.desired_view()
            result["diff"] = {"before": before, "after": after if action != "none" else before}
        return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGSPEC,
        supports_check_mode=True,
        required_if=[("state", "started", ("argv",)), ("state", "restarted", ("argv",))],
    )
    module.exit_json(**DaemonProcess(module).run())


if __name__ == "__main__":
    main()
