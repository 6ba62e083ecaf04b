# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubeconfig files without the ``kubernetes`` library. Private to this collection.

Part of layer 3 (``kube``) of the engine (DESIGN.md section 1): ``kube`` turns what
this module resolves into a TLS context and an HTTP transport. Same semantics as
kubectl and the kubernetes Python client:

- ``$KUBECONFIG`` (an ``os.pathsep`` list) or ``~/.kube/config``; several files are
  merged, the first file that names a cluster, user or context, or sets
  ``current-context``, wins. A relative path in a file is relative to that file's
  directory (to the working directory for a kubeconfig given as a dict).
- cluster: ``server``, ``certificate-authority(-data)``, ``insecure-skip-tls-verify``,
  ``tls-server-name``, ``proxy-url`` (or ``HTTPS_PROXY``/``NO_PROXY``, loopback never proxied).
- user: ``token``, ``tokenFile`` (re-read at most once a minute), ``client-certificate(-data)``
  and ``client-key(-data)``, ``username``/``password``, ``exec`` (client.authentication.k8s.io
  v1 and v1beta1, run again when its credential expires). ``auth-provider`` is refused
  with a message that points to exec plugins.

The parsing functions are pure (dicts in, frozen dataclasses out); the I/O is kept to
``read_kubeconfigs``, ``read_file``, ``write_private_file``, ``resolve_connection``,
``run_exec_plugin`` and ``CredentialSource``. No credential goes into a message, a log line, a repr or an
exception chain.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ansible_collections.tmc.multicluster.plugins.module_utils import api

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as err:  # pragma: no cover - exercised only without the library
    HAS_YAML = False
    YAML_IMPORT_ERROR = err

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_CLUSTER_EXTENSION = "client.authentication.k8s.io/exec"
TOKEN_FILE_PERIOD = 60.0  # seconds between reads of a tokenFile, as the in-cluster loader
EXEC_TIMEOUT = 120.0
MASK = "********"


class ConfigError(api.TMCError):
    """The connection options cannot make a client; the message says which option to fix."""


# ------------------------------------------------------------------ what a kubeconfig resolves to


@dataclass(frozen=True)
class Cluster:
    """A kubeconfig cluster entry, paths made absolute (files not read yet)."""

    server: str = ""
    ca_file: str | None = None
    ca_data: bytes | None = None  # PEM (or DER), decoded from certificate-authority-data
    insecure: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = field(default=None, repr=False)  # may carry the proxy's credentials
    exec_config: Any = None  # extension client.authentication.k8s.io/exec, for exec plugins


@dataclass(frozen=True)
class ExecPlugin:
    """A user's ``exec`` credential plugin."""

    api_version: str
    command: str
    args: tuple[str, ...] = field(default=(), repr=False)
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    provide_cluster_info: bool = False
    install_hint: str = ""


@dataclass(frozen=True)
class User:
    """A kubeconfig user entry, paths made absolute (files not read yet)."""

    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    cert_file: str | None = None
    cert_data: bytes | None = field(default=None, repr=False)
    key_file: str | None = None
    key_data: bytes | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    exec_plugin: ExecPlugin | None = None
    auth_provider: str | None = None  # its name only: not supported, refused when the user is used


@dataclass(frozen=True)
class Selected:
    """The context in use and what it refers to."""

    context: str | None
    cluster: Cluster
    user: User
    namespace: str | None = None


@dataclass(frozen=True)
class Connection:
    """Where and how a client reaches its API server. Holds no credential: safe to log."""

    server: str
    ca_data: bytes | None = field(default=None, repr=False)  # the CA to trust (PEM); None: the system's
    verify: bool = True
    tls_server_name: str | None = None
    proxy_url: str | None = field(default=None, repr=False)  # may carry the proxy's credentials
    proxy_from_environment: bool = False  # HTTPS_PROXY, not the kubeconfig's proxy-url


@dataclass(frozen=True)
class Credentials:
    """What the client presents right now."""

    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: bytes | None = field(default=None, repr=False)  # PEM
    key_data: bytes | None = field(default=None, repr=False)  # PEM
    expires: float | None = None  # seconds since the epoch (exec plugins)

    def authorization(self) -> str | None:
        """The Authorization header: a bearer token wins over basic auth."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username is not None and self.password is not None:
            return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return None

    @property
    def has_client_certificate(self) -> bool:
        return bool(self.cert_file or self.cert_data) and bool(self.key_file or self.key_data)

    def client_identity(self) -> tuple:
        """What the TLS context depends on (a new one when it changes)."""
        return (self.cert_file, self.key_file, self.cert_data, self.key_data)


# ------------------------------------------------------------------ pure: merge, select, parse


class Document(NamedTuple):
    """One parsed kubeconfig and where relative paths in it start."""

    data: Any
    base_dir: str
    origin: str  # for messages: a path, or "the kubeconfig dict"


@dataclass
class Merged:
    current_context: str | None = None
    clusters: dict[str, tuple[Mapping, str]] = field(default_factory=dict)  # name -> (entry, base dir)
    users: dict[str, tuple[Mapping, str]] = field(default_factory=dict)
    contexts: dict[str, tuple[Mapping, str]] = field(default_factory=dict)


def kubeconfig_paths(env_value: str | None, home: str) -> list[str]:
    """The files to merge: ``$KUBECONFIG``'s list (empty entries skipped, each once) or ``~/.kube/config``."""
    if env_value:
        paths: list[str] = []
        for entry in env_value.split(os.pathsep):
            path = os.path.expanduser(entry) if entry else ""
            if path and path not in paths:
                paths.append(path)
        if paths:
            return paths
    return [os.path.join(home, ".kube", "config")]


def merge(documents: Sequence[Document]) -> Merged:
    """kubectl's merge: the first document that names a cluster, user or context, or sets current-context, wins."""
    merged = Merged()
    for doc in documents:
        if doc.data is None:
            continue
        if not isinstance(doc.data, Mapping):
            raise ConfigError(f"{doc.origin} is not a kubeconfig (expected a mapping at the top)")
        if merged.current_context is None and doc.data.get("current-context"):
            merged.current_context = str(doc.data["current-context"])
        for key, inner, into in (
            ("clusters", "cluster", merged.clusters),
            ("users", "user", merged.users),
            ("contexts", "context", merged.contexts),
        ):
            entries = doc.data.get(key) or []
            if not isinstance(entries, list):
                raise ConfigError(f"{doc.origin}: {key} must be a list")
            for entry in entries:
                if not isinstance(entry, Mapping) or not entry.get("name"):
                    raise ConfigError(f"{doc.origin}: every entry of {key} needs a name")
                body = entry.get(inner) or {}
                if not isinstance(body, Mapping):
                    raise ConfigError(f"{doc.origin}: {key} entry {entry['name']!r}: {inner} must be a mapping")
                into.setdefault(str(entry["name"]), (body, doc.base_dir))
    return merged


def select(merged: Merged, context: str | None = None) -> Selected:
    """The context ``context`` (or current-context) with its cluster and user parsed."""
    name = context or merged.current_context
    if not name:
        known = ", ".join(sorted(merged.contexts)) or "none"
        raise ConfigError(f"the kubeconfig has no current-context: give a context (contexts: {known})")
    if name not in merged.contexts:
        known = ", ".join(sorted(merged.contexts)) or "none"
        raise ConfigError(f"context {name!r} is not in the kubeconfig (contexts: {known})")
    ctx, _base = merged.contexts[name]
    cluster_name = ctx.get("cluster")
    if not cluster_name:
        raise ConfigError(f"context {name!r} names no cluster")
    if cluster_name not in merged.clusters:
        raise ConfigError(f"context {name!r} refers to cluster {cluster_name!r}, which the kubeconfig does not define")
    user_name = ctx.get("user")
    if user_name and user_name not in merged.users:
        raise ConfigError(f"context {name!r} refers to user {user_name!r}, which the kubeconfig does not define")
    cluster = parse_cluster(*merged.clusters[cluster_name], name=str(cluster_name))
    user = parse_user(*merged.users[user_name], name=str(user_name)) if user_name else User()
    return Selected(name, cluster, user, ctx.get("namespace"))


def resolve_path(path: Any, base_dir: str) -> str:
    """A path from a kubeconfig: relative to the directory of the file that holds it."""
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(str(path))))


def _decode(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value).encode(), validate=False)
    except (ValueError, TypeError):
        raise ConfigError(f"{what} is not base64") from None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def parse_cluster(raw: Mapping, base_dir: str = "", name: str = "") -> Cluster:
    """A cluster entry: ``-data`` wins over the file, as in kubectl."""
    where = f"cluster {name!r}"
    ca_data = ca_file = None
    if raw.get("certificate-authority-data"):
        ca_data = _decode(raw["certificate-authority-data"], f"{where}: certificate-authority-data")
    elif raw.get("certificate-authority"):
        ca_file = resolve_path(raw["certificate-authority"], base_dir)
    exec_config = None
    for extension in raw.get("extensions") or []:
        if isinstance(extension, Mapping) and extension.get("name") == EXEC_CLUSTER_EXTENSION:
            exec_config = extension.get("extension")
    return Cluster(
        server=str(raw.get("server") or "").rstrip("/"),
        ca_file=ca_file,
        ca_data=ca_data,
        insecure=_flag(raw.get("insecure-skip-tls-verify", False)),
        tls_server_name=raw.get("tls-server-name") or None,
        proxy_url=raw.get("proxy-url") or None,
        exec_config=exec_config,
    )


def parse_exec(raw: Mapping, base_dir: str = "", name: str = "") -> ExecPlugin:
    where = f"user {name!r}: exec"
    if not isinstance(raw, Mapping) or not raw.get("command"):
        raise ConfigError(f"{where} needs a command")
    version = raw.get("apiVersion")
    if version not in EXEC_API_VERSIONS:
        supported = ", ".join(EXEC_API_VERSIONS)
        raise ConfigError(f"{where}: apiVersion {version!r} is not supported; use one of {supported}")
    if raw.get("interactiveMode") == "Always":
        raise ConfigError(f"{where}: interactiveMode Always needs a terminal, and plugins run without one here")
    command = str(raw["command"])
    if os.sep in command and not os.path.isabs(command):
        command = resolve_path(command, base_dir)  # as kubectl: a relative path is relative to the kubeconfig
    env = []
    for item in raw.get("env") or []:
        if not isinstance(item, Mapping) or "name" not in item:
            raise ConfigError(f"{where}: every env entry needs a name and a value")
        env.append((str(item["name"]), str(item.get("value", ""))))
    return ExecPlugin(
        api_version=version,
        command=command,
        args=tuple(str(a) for a in raw.get("args") or []),
        env=tuple(env),
        provide_cluster_info=_flag(raw.get("provideClusterInfo", False)),
        install_hint=str(raw.get("installHint") or "").strip(),
    )


def parse_user(raw: Mapping, base_dir: str = "", name: str = "") -> User:
    """A user entry. ``token`` wins over ``tokenFile`` and ``-data`` over the file, as in kubectl."""
    where = f"user {name!r}"
    provider = raw.get("auth-provider")
    cert_data = key_data = cert_file = key_file = None
    if raw.get("client-certificate-data"):
        cert_data = _decode(raw["client-certificate-data"], f"{where}: client-certificate-data")
    elif raw.get("client-certificate"):
        cert_file = resolve_path(raw["client-certificate"], base_dir)
    if raw.get("client-key-data"):
        key_data = _decode(raw["client-key-data"], f"{where}: client-key-data")
    elif raw.get("client-key"):
        key_file = resolve_path(raw["client-key"], base_dir)
    return User(
        token=str(raw["token"]) if raw.get("token") else None,
        token_file=resolve_path(raw["tokenFile"], base_dir) if raw.get("tokenFile") else None,
        cert_file=cert_file,
        cert_data=cert_data,
        key_file=key_file,
        key_data=key_data,
        username=str(raw["username"]) if raw.get("username") is not None else None,
        password=str(raw["password"]) if raw.get("password") is not None else None,
        exec_plugin=parse_exec(raw["exec"], base_dir, name) if raw.get("exec") else None,
        auth_provider=str((provider or {}).get("name") or "unnamed") if provider else None,
    )


def exec_credential_request(plugin: ExecPlugin, connection: Connection | None = None, exec_config: Any = None) -> dict:
    """KUBERNETES_EXEC_INFO for a plugin: never interactive; the cluster when it asks for it."""
    spec: dict = {"interactive": False}
    if plugin.provide_cluster_info and connection is not None:
        cluster: dict = {"server": connection.server, "insecure-skip-tls-verify": not connection.verify}
        if connection.ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(connection.ca_data).decode()
        if connection.tls_server_name:
            cluster["tls-server-name"] = connection.tls_server_name
        if exec_config is not None:
            cluster["config"] = exec_config
        spec["cluster"] = cluster
    return {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}


_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})\Z")


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (nanoseconds allowed, as Go writes them)."""
    match = _RFC3339.match(str(text).strip())
    if not match:
        raise ValueError("not an RFC 3339 time")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = dt.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    stamp = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    return stamp.timestamp()


def parse_exec_output(stdout: str, plugin: ExecPlugin) -> Credentials:
    """The credential an exec plugin printed. Messages never quote the output (it holds the token)."""
    what = f"exec credential plugin {plugin.command!r}"
    try:
        data = json.loads(stdout)
    except ValueError:
        raise ConfigError(f"{what} printed no ExecCredential (its output is not JSON)") from None
    if not isinstance(data, Mapping) or data.get("kind") != "ExecCredential":
        raise ConfigError(f"{what} printed no ExecCredential (kind is not ExecCredential)")
    if data.get("apiVersion") != plugin.api_version:
        raise ConfigError(f"{what} answered in apiVersion {data.get('apiVersion')!r}, not {plugin.api_version}")
    status = data.get("status")
    if not isinstance(status, Mapping):
        raise ConfigError(f"{what} printed an ExecCredential without status")
    token = status.get("token") or None
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if bool(cert) != bool(key):
        raise ConfigError(f"{what} gave clientCertificateData and clientKeyData only together")
    if not token and not cert:
        raise ConfigError(f"{what} gave neither a token nor clientCertificateData and clientKeyData")
    expires = None
    if status.get("expirationTimestamp"):
        try:
            expires = parse_rfc3339(status["expirationTimestamp"])
        except ValueError:
            raise ConfigError(f"{what}: expirationTimestamp is not an RFC 3339 time") from None
    return Credentials(
        token=str(token) if token else None,
        cert_data=str(cert).encode() if cert else None,
        key_data=str(key).encode() if key else None,
        expires=expires,
    )


_SECRET_PATTERNS = re.compile(
    r"(?i)(?P<bearer>\b(?:bearer|basic)\s+)\S+"
    r"|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"  # a JWT (ServiceAccount and OIDC tokens)
    r"|(?P<field>\b(?:[a-z_-]*token|password|secret|client[_-]?key[a-z_-]*)\b[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
)


def scrub(text: str, secrets: Sequence[str | None] = ()) -> str:
    """``text`` with the given secrets (of 8 characters or more) and anything shaped like a token masked."""
    for secret in sorted((s for s in secrets if s and len(s) >= 8), key=len, reverse=True):
        text = text.replace(secret, MASK)

    def mask(match: re.Match) -> str:
        return (match.group("bearer") or match.group("field") or "") + MASK

    return _SECRET_PATTERNS.sub(mask, text)


# ------------------------------------------------------------------ proxies from the environment


def _no_proxy_matches(host: str, port: int | None, rule: str) -> bool:
    rule = rule.strip().lower()
    if not rule:
        return False
    if rule == "*":
        return True
    rule_port = None
    if rule.count(":") == 1 and not rule.startswith("["):  # host:port (an IPv6 rule has more colons)
        rule, _colon, text = rule.partition(":")
        rule_port = int(text) if text.isdigit() else None
    rule = rule.strip("[]")
    if rule_port is not None and rule_port != port:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        try:
            return address in ipaddress.ip_network(rule, strict=False)
        except ValueError:
            return False
    rule = rule.lstrip("*").lstrip(".")
    return host == rule or host.endswith("." + rule)


def env_proxy(server: str, environ: Mapping[str, str]) -> str | None:
    """The proxy the environment sets for ``server`` (HTTPS_PROXY/HTTP_PROXY, NO_PROXY), as kubectl reads it:
    loopback addresses and localhost are never proxied."""
    parts = urlsplit(server)
    host = (parts.hostname or "").lower()
    if not host:
        return None
    names = ("HTTPS_PROXY", "https_proxy") if parts.scheme == "https" else ("HTTP_PROXY", "http_proxy")
    proxy = next((environ[n] for n in names if environ.get(n)), None)
    if not proxy:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    no_proxy = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    if any(_no_proxy_matches(host, port, rule) for rule in no_proxy.split(",")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def describe_proxy(url: str) -> str:
    """A proxy URL without its credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}"


# ------------------------------------------------------------------ I/O


def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror or type(err).__name__}") from None


def _same_private_file(path: str, content: bytes, mode: int) -> bool:
    """True when ``path`` is a regular file of ours (not a link), with ``mode`` and ``content``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False  # absent, or a symlink (ELOOP): replaced, never followed
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != mode or info.st_uid != os.geteuid():
            return False
        return handle.read() == content


def write_private_file(path: str, content: str | bytes, check_mode: bool = False, mode: int = 0o600) -> bool:
    """Write a file that holds a secret (a kubeconfig with a token, a private key); True when it changed.

    Safe against a planted link or a race on the way: the content goes to a new file made by
    ``mkstemp`` in the destination's directory (O_CREAT|O_EXCL|O_NOFOLLOW: a name that exists,
    a symlink included, is never opened), whose mode is set with ``fchmod`` before any byte is
    written, then flushed and renamed over ``path`` (rename replaces a link at ``path`` itself,
    never what it points to). A missing directory is created with mode 0700.
    """
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    if _same_private_file(path, data, mode):
        return False
    if check_mode:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def read_document(path: str) -> Document:
    """One kubeconfig file. A YAML error says where, never what (the line may hold a token)."""
    if not HAS_YAML:
        raise ConfigError(f"the Python library PyYAML is required to read kubeconfig files ({YAML_IMPORT_ERROR})")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or type(err).__name__}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "cannot be parsed"
        raise ConfigError(f"{path} is not valid YAML{where}: {problem}") from None
    return Document(data, os.path.dirname(os.path.abspath(path)), path)


def read_kubeconfigs(kubeconfig: Any = None, environ: Mapping[str, str] | None = None) -> list[Document]:
    """The documents to merge: a dict as it is, a path, or ``$KUBECONFIG`` / ``~/.kube/config``."""
    if isinstance(kubeconfig, Mapping):
        return [Document(dict(kubeconfig), "", "the kubeconfig dict")]
    if kubeconfig is not None:
        path = os.path.expanduser(os.fspath(kubeconfig))
        if not os.path.exists(path):
            raise ConfigError(f"{path} does not exist")
        return [read_document(path)]
    environ = os.environ if environ is None else environ
    listed = environ.get("KUBECONFIG")
    paths = [p for p in kubeconfig_paths(listed, os.path.expanduser("~")) if os.path.exists(p)]
    if not paths:
        raise ConfigError("none of the files in KUBECONFIG exists" if listed else "~/.kube/config does not exist")
    return [read_document(p) for p in paths]


def load(kubeconfig: Any = None, context: str | None = None, environ: Mapping[str, str] | None = None) -> Selected:
    """Read, merge and select: the context's cluster and user, paths resolved, files not read yet."""
    return select(merge(read_kubeconfigs(kubeconfig, environ)), context)


def resolve_connection(cluster: Cluster, proxy_environ: Mapping[str, str] | None = None) -> Connection:
    """The connection of a cluster entry: the CA read (it is no secret), the proxy decided."""
    ca = cluster.ca_data
    if ca is None and cluster.ca_file:
        ca = read_file(cluster.ca_file, "certificate-authority")
    proxy, from_environment = cluster.proxy_url, False
    if proxy is None and cluster.server:
        proxy = env_proxy(cluster.server, os.environ if proxy_environ is None else proxy_environ)
        from_environment = proxy is not None
    return Connection(
        server=cluster.server,
        ca_data=ca or None,
        verify=not cluster.insecure,
        tls_server_name=cluster.tls_server_name,
        proxy_url=proxy,
        proxy_from_environment=from_environment,
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def run_exec_plugin(plugin: ExecPlugin, request: Mapping, timeout: float = EXEC_TIMEOUT) -> str:
    """Run a credential plugin without a terminal; its stdout. A failure names the exit code and the
    last line of stderr, masked: never the arguments, the environment or the output."""
    what = f"exec credential plugin {plugin.command!r}"
    env = {**os.environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": json.dumps(request)}
    try:
        proc = subprocess.run(
            [plugin.command, *plugin.args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        hint = f" ({plugin.install_hint})" if plugin.install_hint else ""
        raise ConfigError(f"{what} not found{hint}") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what} did not answer within {timeout:g}s") from None
    except OSError as err:
        raise ConfigError(f"{what} cannot run: {err.strerror or type(err).__name__}") from None
    if proc.returncode != 0:
        last = scrub(_last_line(proc.stderr), [value for _name, value in plugin.env] + list(plugin.args))
        raise ConfigError(f"{what} failed with exit code {proc.returncode}" + (f": {last}" if last else ""))
    return proc.stdout


class CredentialSource:
    """The credentials a client presents now. Thread-safe.

    Static ones as they are; a ``tokenFile`` re-read at most once a minute (the last
    good token stays when a read fails); an exec plugin's credential, the plugin run
    again once ``expirationTimestamp`` has passed or after ``invalidate`` (a 401).
    """

    def __init__(
        self,
        user: User,
        connection: Connection | None = None,
        exec_config: Any = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        runner: Callable[[ExecPlugin, Mapping], str] = run_exec_plugin,
        token_file_period: float = TOKEN_FILE_PERIOD,
    ):
        if user.auth_provider and not (user.token or user.token_file):
            raise ConfigError(
                f"auth-provider {user.auth_provider!r} is not supported: use an exec credential plugin "
                "(client.authentication.k8s.io/v1, for example kubelogin or your cloud's CLI) in the kubeconfig user"
            )
        self.user = user
        self._connection = connection
        self._exec_config = exec_config
        self._clock = clock
        self._monotonic = monotonic
        self._runner = runner
        self._period = token_file_period
        self._lock = threading.Lock()
        self._file_token: str | None = None
        self._file_read_at: float | None = None
        self._exec: Credentials | None = None
        self._static = Credentials(
            token=user.token,
            username=user.username,
            password=user.password,
            cert_file=user.cert_file,
            key_file=user.key_file,
            cert_data=user.cert_data,
            key_data=user.key_data,
        )
        self.dynamic = bool(not user.token and (user.token_file or user.exec_plugin))

    def current(self) -> Credentials:
        if not self.dynamic:
            return self._static
        with self._lock:
            if self.user.token_file:
                return replace(self._static, token=self._token_from_file())
            return self._from_exec()

    def invalidate(self) -> None:
        """The server refused the credential: read the file or run the plugin again next time."""
        with self._lock:
            self._exec = None
            self._file_read_at = None

    def _token_from_file(self) -> str:
        now = self._monotonic()
        if self._file_read_at is not None and now - self._file_read_at < self._period and self._file_token:
            return self._file_token
        try:
            token = read_file(self.user.token_file, "tokenFile").decode("utf-8", "replace").strip()
        except ConfigError:
            if self._file_token:
                self._file_read_at = now  # keep the last good token; try again in a minute
                return self._file_token
            raise
        if not token:
            if self._file_token:
                return self._file_token
            raise ConfigError(f"tokenFile {self.user.token_file} is empty")
        self._file_token, self._file_read_at = token, now
        return token

    def _from_exec(self) -> Credentials:
        cached = self._exec
        if cached is not None and (cached.expires is None or self._clock() < cached.expires):
            return self._combine(cached)
        plugin = self.user.exec_plugin
        request = exec_credential_request(plugin, self._connection, self._exec_config)
        fresh = parse_exec_output(self._runner(plugin, request), plugin)
        self._exec = fresh
        return self._combine(fresh)

    def _combine(self, issued: Credentials) -> Credentials:
        if issued.cert_data:  # the plugin's certificate replaces the kubeconfig's
            return replace(
                self._static,
                token=issued.token,
                cert_file=None,
                key_file=None,
                cert_data=issued.cert_data,
                key_data=issued.key_data,
                expires=issued.expires,
            )
        return replace(self._static, token=issued.token, expires=issued.expires)
