# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny process supervisor: the long-running half of ``tmc.multicluster.daemon_process``. Private.

The module starts it detached (a session of its own) and returns; the supervisor then

- writes its own pid file and keeps a state file (JSON) up to date: the child's pid,
  how often it was restarted, how it last ended;
- runs the child in a process group of its own, stdin from /dev/null, stdout and
  stderr appended to the log file;
- restarts the child per policy — ``always``, ``on-failure`` (a non-zero exit or a
  signal) or ``never`` — after an exponential backoff (1 s, 2 s, 4 s ... up to
  ``--backoff-max``), reset once a child has run for ``--backoff-reset`` seconds;
- on SIGTERM, SIGINT or SIGHUP sends SIGTERM to the child's process group, waits up
  to ``--stop-timeout`` seconds, then sends SIGKILL; removes its pid files and exits.

It uses the standard library only and imports nothing of the collection: a module's
own module_utils are gone once the module run ends, so the module copies this file
next to the pid files and runs it with the target's Python. It also runs as
``python -m ansible_collections.tmc.multicluster.plugins.module_utils.supervisor``
(``--help`` lists the flags; the child's argv follows ``--`` or comes from the
state file).

Its own messages go to the log file as JSON lines, like the daemons' logs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

POLICIES = ("always", "on-failure", "never")
CANNOT_START = 127  # the exit code recorded when the program cannot be run at all (as a shell says)
SIGNALS_TO_STOP = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")  # noqa: UP017 - Python < 3.11 too


def write_atomic(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` (mode 0600) so that a reader never sees half a file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def read_json(path: str) -> dict:
    try:
        with open(path) as handle:
            found = json.load(handle)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def launch_detached(argv: list[str], log_file: str, env: dict) -> subprocess.Popen:
    """Start ``argv`` in a session of its own, output appended to ``log_file``; do not wait for it.

    The module starts the supervisor this way: it outlives the module run and holds none of the
    module's pipes (an inherited pipe would keep Ansible waiting for the module's output).
    """
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(  # noqa: S603 - our own supervisor
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd="/",
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log)


def should_restart(policy: str, code: int) -> bool:
    if policy == "always":
        return True
    if policy == "on-failure":
        return code != 0
    return False


def backoff_delay(failures: int, maximum: float) -> float:
    """1, 2, 4, ... seconds after the 1st, 2nd, 3rd ... quick exit in a row, at most ``maximum``."""
    return float(min(maximum, 2 ** max(0, failures - 1)))


class Supervisor:
    def __init__(self, args: argparse.Namespace, argv: list[str]):
        self.args = args
        self.argv = argv
        self.stopping = False
        self.child: subprocess.Popen | None = None
        self.state = read_json(args.state_file)
        self.restarts = 0

    # -- bookkeeping

    def log(self, level: str, msg: str, **fields) -> None:
        entry = {"ts": now_iso(), "level": level, "logger": "tmc.supervisor", "msg": msg, "name": self.args.name}
        entry.update(fields)
        line = (json.dumps(entry, default=str) + "\n").encode()
        try:
            fd = os.open(self.args.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError:
            pass

    def save(self, **fields) -> None:
        self.state.update({"supervisor_pid": os.getpid(), "restarts": self.restarts, "updated": now_iso()})
        self.state.update(fields)
        write_atomic(self.args.state_file, json.dumps(self.state, indent=2, sort_keys=True))

    # -- signals

    def _on_signal(self, signum, _frame) -> None:
        if not self.stopping:
            self.stopping = True
            self.log("info", "stop requested", signal=signal.Signals(signum).name)

    def install_signal_handlers(self) -> None:
        for sig in SIGNALS_TO_STOP:
            signal.signal(sig, self._on_signal)

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when a stop is requested."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    # -- the child

    def spawn(self) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TMC_SUPERVISOR_")}
        log = os.open(self.args.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            child = subprocess.Popen(  # noqa: S603 - argv is the user's, by design
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.args.chdir or None,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(log)
        write_atomic(self.args.pid_file, f"{child.pid}\n")
        return child

    def signal_child(self, sig: int) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        try:
            os.killpg(child.pid, sig)  # the child leads its own group: its own children stop too
        except ProcessLookupError:
            pass
        except PermissionError:
            child.send_signal(sig)

    def stop_child(self) -> int | None:
        """SIGTERM, then SIGKILL after the stop timeout; returns the exit code."""
        child = self.child
        if child is None:
            return None
        if child.poll() is None:
            self.signal_child(signal.SIGTERM)
            try:
                child.wait(self.args.stop_timeout)
            except subprocess.TimeoutExpired:
                self.log(
                    "warning",
                    "child did not stop in time; killing it",
                    pid=child.pid,
                    stop_timeout=self.args.stop_timeout,
                )
                self.signal_child(signal.SIGKILL)
                child.wait()
        # Whatever the child started in its group and left behind goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        return child.returncode

    def wait_child(self) -> int | None:
        """The child's exit code, or None when a stop was requested first."""
        while True:
            try:
                return self.child.wait(0.2)
            except subprocess.TimeoutExpired:
                if self.stopping:
                    return None

    # -- main loop

    def run(self) -> int:
        args = self.args
        write_atomic(args.supervisor_pid_file, f"{os.getpid()}\n")
        self.install_signal_handlers()
        self.save(
            running=True,
            started=now_iso(),
            child_pid=None,
            last_exit=None,
            argv=self.argv,
            restart_policy=args.restart_policy,
        )
        failures = 0
        code = 0
        try:
            while not self.stopping:
                started = time.monotonic()
                try:
                    self.child = self.spawn()
                except OSError as err:
                    self.log("error", "cannot start the child", error=str(err), argv0=self.argv[0])
                    code = CANNOT_START
                    reason = f"cannot run {self.argv[0]}: {err.strerror or err}"
                    self.save(child_pid=None, last_exit={"code": code, "reason": reason, "at": now_iso()})
                else:
                    self.log("info", "child started", pid=self.child.pid, restarts=self.restarts)
                    self.save(child_pid=self.child.pid, child_started=now_iso())
                    result = self.wait_child()
                    if result is None:
                        break  # stop requested: handled below
                    code = result
                    remove(args.pid_file)
                    self.log(
                        "warning" if code else "info", "child exited", pid=self.child.pid, reason=describe_exit(code)
                    )
                    self.save(child_pid=None, last_exit={"code": code, "reason": describe_exit(code), "at": now_iso()})
                if not should_restart(args.restart_policy, code):
                    self.log("info", "not restarting", policy=args.restart_policy, reason=describe_exit(code))
                    break
                failures = 1 if time.monotonic() - started >= args.backoff_reset else failures + 1
                delay = backoff_delay(failures, args.backoff_max)
                self.log("info", "restarting after backoff", delay_s=delay, policy=args.restart_policy)
                self.sleep(delay)
                if not self.stopping:
                    self.restarts += 1
            if self.stopping:
                stopped = self.stop_child()
                if stopped is not None:
                    code = stopped
                    self.log("info", "child stopped", reason=describe_exit(stopped))
        finally:
            remove(args.pid_file)
            remove(args.supervisor_pid_file)
            with contextlib.suppress(OSError):
                self.save(
                    running=False,
                    child_pid=None,
                    supervisor_pid=None,
                    stopped=now_iso(),
                    **(
                        {"last_exit": {"code": code, "reason": describe_exit(code), "at": now_iso()}}
                        if self.child is not None
                        else {}
                    ),
                )
        return 0 if self.stopping else code


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tmc-supervisor", description="Run one child process and keep it running.")
    p.add_argument("--name", required=True, help="what the log lines call the child")
    p.add_argument("--pid-file", required=True, help="the child's pid file (while it runs)")
    p.add_argument("--supervisor-pid-file", required=True, help="this supervisor's pid file")
    p.add_argument("--state-file", required=True, help="JSON state: child pid, restarts, last exit")
    p.add_argument("--log-file", required=True, help="the child's stdout and stderr are appended here")
    p.add_argument("--restart-policy", choices=POLICIES, default="on-failure")
    p.add_argument("--stop-timeout", type=float, default=30.0, help="seconds between SIGTERM and SIGKILL")
    p.add_argument("--chdir", default=None, help="the child's working directory")
    p.add_argument("--backoff-max", type=float, default=30.0, help="longest wait before a restart, in seconds")
    p.add_argument("--backoff-reset", type=float, default=30.0, help="a child that ran this long resets the backoff")
    p.add_argument("argv", nargs=argparse.REMAINDER, help="-- then the child's argv (default: from the state file)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    child_argv = list(args.argv)
    if child_argv and child_argv[0] == "--":
        child_argv = child_argv[1:]
    if not child_argv:
        child_argv = list(read_json(args.state_file).get("argv") or [])
    if not child_argv:
        sys.stderr.write("tmc-supervisor: no child argv (give it after -- or in the state file)\n")
        return 2
    return Supervisor(args, child_argv).run()


if __name__ == "__main__":
    raise SystemExit(main())
