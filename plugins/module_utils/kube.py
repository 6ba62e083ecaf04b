# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to Kubernetes API servers: clients, retries, server-side apply.

Layer 3 of the engine (DESIGN.md section 1). Private to this collection.

- ``ClientConfig`` describes how to reach one API server (kubeconfig path or
  dict, context, or host + token + CA); ``client_for`` keeps one pooled client
  per distinct configuration. ``kubeconfig`` reads kubeconfigs; ``Transport``
  speaks HTTP on urllib3 (one TLS context and connection pool per server). The
  ``kubernetes`` library is not used: its generated models cost ~20 MB per process.
- ``Kube`` wraps a client with plain-dict CRUD, server-side apply and
  server-side dry run (check mode), resolving kinds to REST paths through
  discovery of just the group-version it needs.
- ``with_retries`` retries transient failures only (connection errors, 5xx,
  429 honouring Retry-After) with exponential backoff and full jitter.
- Errors become ``KubeError`` with the API server's own message, which names
  the field at fault. No error message or log line carries a credential.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kubeconfig
from ansible_collections.tmc.multicluster.plugins.module_utils.kubeconfig import ConfigError, Connection, Credentials

try:
    import urllib3

    HAS_URLLIB3 = True
    URLLIB3_IMPORT_ERROR = None
    _CONNECTION_ERRORS: tuple = (urllib3.exceptions.HTTPError, OSError)
    _TLS_ERRORS: tuple = (urllib3.exceptions.SSLError, ssl.SSLError)
except ImportError as err:  # pragma: no cover - exercised only without the library
    HAS_URLLIB3 = False
    URLLIB3_IMPORT_ERROR = err
    _CONNECTION_ERRORS = (OSError,)
    _TLS_ERRORS = (ssl.SSLError,)

# The library a module or the inventory needs and does not find (None when all are there).
if not HAS_URLLIB3:
    MISSING_LIBRARY, LIBRARY_IMPORT_ERROR = "urllib3", URLLIB3_IMPORT_ERROR
elif not kubeconfig.HAS_YAML:  # pragma: no cover - PyYAML comes with ansible-core
    MISSING_LIBRARY, LIBRARY_IMPORT_ERROR = "PyYAML", kubeconfig.YAML_IMPORT_ERROR
else:
    MISSING_LIBRARY, LIBRARY_IMPORT_ERROR = None, None

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
POOL_MAXSIZE = 16
WATCH_CONNECT_TIMEOUT = 10.0


class KubeError(api.TMCError):
    """An API call failed; ``status`` is the HTTP status (0 for connection errors)."""

    def __init__(self, message: str, status: int = 0, reason: str = "", details: Mapping | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.details = dict(details or {})


# ------------------------------------------------------------------ config


@dataclass(frozen=True)
class ClientConfig:
    """How to reach one API server. Either a kubeconfig (path or dict, optional
    context) or host + api_key/token_file/client certificate + ca_cert; the
    explicit options override the kubeconfig's."""

    kubeconfig: str | Mapping | None = None
    context: str | None = None
    host: str | None = None
    api_key: str | None = field(default=None, repr=False)
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = field(default=None, repr=False)
    validate_certs: bool = True
    request_timeout: float = 30.0
    token_file: str | None = None  # a bearer token re-read at most once a minute (in-cluster, --token-file)

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> ClientConfig:
        """From module options (the shared auth argspec) or a ``member`` dict."""
        params = params or {}
        validate = params.get("validate_certs")
        return cls(
            kubeconfig=params.get("kubeconfig"),
            context=params.get("context"),
            host=params.get("host"),
            api_key=params.get("api_key"),
            ca_cert=params.get("ca_cert"),
            client_cert=params.get("client_cert"),
            client_key=params.get("client_key"),
            validate_certs=True if validate is None else bool(validate),
            request_timeout=float(params.get("request_timeout") or 30.0),
        )

    def pool_key(self) -> str:
        """A digest of the whole configuration: never printed, never the secret itself."""
        raw = json.dumps(
            [
                self.kubeconfig,
                self.context,
                self.host,
                self.api_key,
                self.ca_cert,
                self.client_cert,
                self.client_key,
                self.validate_certs,
                self.token_file,
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(raw.encode()).hexdigest()


def _resolve(cfg: ClientConfig) -> tuple[Connection, kubeconfig.CredentialSource]:
    """The kubeconfig (when given, or when there is no host) with the explicit options applied over it."""
    if MISSING_LIBRARY:
        raise ConfigError(f"the Python library {MISSING_LIBRARY!r} is required ({LIBRARY_IMPORT_ERROR})")
    cluster, user = kubeconfig.Cluster(), kubeconfig.User()
    if cfg.kubeconfig is not None or not cfg.host:
        where = "kubeconfig" if cfg.kubeconfig is not None else "kubeconfig (default ~/.kube/config)"
        try:
            selected = kubeconfig.load(cfg.kubeconfig, cfg.context)
        except ConfigError as err:
            raise ConfigError(f"cannot load {where}: {_scrub(str(err), cfg)}") from None
        cluster, user = selected.cluster, selected.user
    if cfg.host:
        cluster = replace(cluster, server=cfg.host.rstrip("/"))
    if cfg.api_key or cfg.token_file:
        # an explicit token replaces the kubeconfig user's token, exec plugin and basic auth; certificates stay
        user = replace(
            user,
            token=cfg.api_key or None,
            token_file=None if cfg.api_key else cfg.token_file,
            username=None,
            password=None,
            exec_plugin=None,
            auth_provider=None,
        )
    if cfg.ca_cert:
        cluster = replace(cluster, ca_file=cfg.ca_cert, ca_data=None)
    if cfg.client_cert:
        user = replace(user, cert_file=cfg.client_cert, cert_data=None)
    if cfg.client_key:
        user = replace(user, key_file=cfg.client_key, key_data=None)
    if not cfg.validate_certs:
        cluster = replace(cluster, insecure=True)
    if not cluster.server:
        raise ConfigError("no API server: give kubeconfig (with a current context) or host")
    connection = kubeconfig.resolve_connection(cluster)
    return connection, kubeconfig.CredentialSource(user, connection, cluster.exec_config)


def _scrub(text: str, cfg: ClientConfig) -> str:
    for secret in (cfg.api_key,):
        if secret:
            text = text.replace(secret, "********")
    return text


# ------------------------------------------------------------------ transport


def _load_client_certificate(context: ssl.SSLContext, creds: Credentials) -> None:
    """The client certificate into the TLS context. Data (not files) goes through a private
    temporary file (mode 0600 in a fresh 0700 directory), deleted as soon as it is loaded."""
    try:
        if creds.cert_data is None and creds.key_data is None:
            context.load_cert_chain(creds.cert_file, creds.key_file)
            return
        cert = creds.cert_data or kubeconfig.read_file(creds.cert_file, "client-certificate")
        key = creds.key_data or kubeconfig.read_file(creds.key_file, "client-key")
        directory = tempfile.mkdtemp(prefix="tmc-tls-")
        path = os.path.join(directory, "client.pem")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(cert.rstrip(b"\n") + b"\n" + key)
            context.load_cert_chain(path)
        finally:
            if os.path.exists(path):
                os.unlink(path)
            os.rmdir(directory)
    except ssl.SSLError as err:
        raise ConfigError(
            f"the client certificate and key cannot be used ({err.reason or 'not PEM, or not a pair'})"
        ) from None
    except OSError as err:
        raise ConfigError(f"cannot read the client certificate or key: {err.strerror or type(err).__name__}") from None


def tls_context(connection: Connection, creds: Credentials) -> ssl.SSLContext:
    """One TLS context per connection: the CA (or the system's), hostname checks, the client certificate."""
    try:
        if connection.ca_data:
            ca = connection.ca_data
            cadata = ca.decode("ascii") if b"-----BEGIN" in ca else ca
            context = ssl.create_default_context(cadata=cadata)
        else:
            context = ssl.create_default_context()
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise ConfigError(
            "the certificate authority (certificate-authority, certificate-authority-data or ca_cert) "
            "holds no usable certificate"
        ) from None
    if not connection.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if creds.has_client_certificate:
        _load_client_certificate(context, creds)
    elif creds.cert_file or creds.cert_data or creds.key_file or creds.key_data:
        raise ConfigError("a client certificate needs its key, and a key its certificate")
    return context


def _pool_manager(connection: Connection, context: ssl.SSLContext | None, maxsize: int = POOL_MAXSIZE):
    """urllib3 pools for one API server: no urllib3 retries (we retry ourselves, transient errors only)."""
    options: dict[str, Any] = {"maxsize": maxsize, "retries": False}
    if context is not None:
        options["ssl_context"] = context
        options["cert_reqs"] = ssl.CERT_REQUIRED if connection.verify else ssl.CERT_NONE
        if connection.tls_server_name:
            options["server_hostname"] = connection.tls_server_name
    proxy = connection.proxy_url
    if not proxy:
        return urllib3.PoolManager(**options)
    where = kubeconfig.describe_proxy(proxy)
    scheme = where.split("://", 1)[0].lower()
    if scheme.startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:
            raise ConfigError(f"proxy-url {where}: a SOCKS proxy needs the Python library PySocks") from None
        return SOCKSProxyManager(proxy, **options)
    if scheme not in ("http", "https"):
        raise ConfigError(f"proxy-url {where}: the scheme must be http, https or socks5")
    auth = urllib3.util.parse_url(proxy).auth
    headers = urllib3.util.make_headers(proxy_basic_auth=auth) if auth else None
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **options)


class Transport:
    """HTTP to one API server on urllib3: one TLS context and connection pool, credentials on each request.

    ``connection`` describes the server (no secrets). A new pool is made only when
    the client certificate changes (an exec plugin issued a new one).
    """

    def __init__(self, connection: Connection, credentials: kubeconfig.CredentialSource, maxsize: int = POOL_MAXSIZE):
        self.connection = connection
        self.credentials = credentials
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._pool = None
        self._identity: tuple | None = None
        self._pool_for(credentials.current())  # bad TLS material fails here, with a clear ConfigError

    def __repr__(self) -> str:
        return f"Transport({self.connection.server})"

    def _pool_for(self, creds: Credentials):
        identity = creds.client_identity()
        pool = self._pool
        if pool is not None and identity == self._identity:
            return pool
        with self._lock:
            if self._pool is None or identity != self._identity:
                tls = tls_context(self.connection, creds) if self.connection.server.startswith("https") else None
                self._pool = _pool_manager(self.connection, tls, self._maxsize)
                self._identity = identity
            return self._pool

    def request(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: Any = None,
        stream: bool = False,
    ):
        """One HTTP exchange (no retries). ``stream``: the body is left unread (release the connection)."""
        creds = self.credentials.current()
        pool = self._pool_for(creds)
        url = self.connection.server + path
        pairs = [(k, ("true" if v else "false") if isinstance(v, bool) else v) for k, v in query]
        if pairs:
            url += "?" + urlencode(pairs)
        all_headers = dict(headers or {})
        authorization = creds.authorization()
        if authorization:
            all_headers["Authorization"] = authorization
        response = pool.request(
            method,
            url,
            body=body,
            headers=all_headers,
            timeout=timeout,
            preload_content=not stream,
            retries=False,
            redirect=False,
        )
        if response.status == 401 and self.credentials.dynamic:
            self.credentials.invalidate()  # an expired token or certificate: fetch a new one next time
        return response

    def current_credentials(self) -> Credentials:
        """What the client presents now. Holds secrets: never log it."""
        return self.credentials.current()


def _tls_reason(err: BaseException) -> str:
    """Why a TLS handshake failed, from the innermost ssl error (no URL, no secret)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {current.verify_message}"
        if isinstance(current, ssl.SSLError) and current.reason:
            return str(current.reason)
        inner = next((a for a in getattr(current, "args", ()) if isinstance(a, BaseException)), None)
        current = inner or current.__cause__ or current.__context__
    return type(err).__name__


def make_transport(cfg: ClientConfig, maxsize: int = POOL_MAXSIZE) -> Transport:
    """A transport of its own for ``cfg``; its pool keeps up to ``maxsize`` idle connections."""
    connection, credentials = _resolve(cfg)
    return Transport(connection, credentials, maxsize)


_POOL: dict[str, Kube] = {}
_POOL_LOCK = threading.Lock()


def client_for(cfg: ClientConfig) -> Kube:
    """The pooled ``Kube`` for this configuration (one connection pool per cluster)."""
    key = cfg.pool_key()
    with _POOL_LOCK:
        kube = _POOL.get(key)
        if kube is None:
            kube = Kube(make_transport(cfg), cfg)
            _POOL[key] = kube
        return kube


# ------------------------------------------------------------------ retries


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, for transient errors only."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        rng = rng or random.Random()
        for attempt in range(self.attempts - 1):
            yield rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


NO_RETRY = RetryPolicy(attempts=1)


def is_transient(err: BaseException) -> bool:
    """Connection errors, 5xx and 429 are worth retrying; other answers are final."""
    if isinstance(err, KubeError):
        return err.status == 0 or err.status == 429 or err.status >= 500
    return False


def retry_after(err: BaseException) -> float | None:
    if isinstance(err, KubeError):
        value = err.details.get("retry_after")
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None
    return None


def with_retries(call: Callable[[], Any], policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep):
    """Run ``call``; on a transient KubeError wait and try again, up to policy.attempts."""
    delays = policy.delays()
    while True:
        try:
            return call()
        except KubeError as err:
            if not is_transient(err):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            sleep(max(delay, retry_after(err) or 0.0))


# ------------------------------------------------------------------ client


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: frozenset = frozenset()

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base


def _status_message(status: int, body: str) -> tuple[str, str, dict]:
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return (body or "").strip()[:500] or f"HTTP {status}", "", {}
    if isinstance(parsed, dict):
        return parsed.get("message") or f"HTTP {status}", parsed.get("reason", ""), parsed.get("details") or {}
    return f"HTTP {status}", "", {}


class CircuitBreaker:
    """Fails fast after ``threshold`` consecutive transient failures, for ``cooldown`` seconds.

    After the cooldown one call is let through (half-open); its success closes
    the circuit, its failure opens it again. Daemons give one to each API server
    so that a dead or very slow server costs no threads and no timeouts.
    """

    def __init__(self, threshold: int = 5, cooldown: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trips = 0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self.opened_at is not None and self.clock() - self.opened_at < self.cooldown

    def before_call(self, where: str) -> None:
        if self.is_open:
            raise KubeError(
                f"{where}: circuit open after {self.failures} consecutive failures; retrying after {self.cooldown:g}s",
                0,
                "CircuitOpen",
            )

    def record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.failures, self.opened_at = 0, None
                return
            self.failures += 1
            if self.failures >= self.threshold:
                if self.opened_at is None or self.clock() - self.opened_at >= self.cooldown:
                    self.trips += 1
                self.opened_at = self.clock()


class Kube:
    """Plain-dict access to one API server."""

    def __init__(
        self,
        transport: Transport,
        cfg: ClientConfig | None = None,
        retry: RetryPolicy = RetryPolicy(),
        breaker: CircuitBreaker | None = None,
        observer: Callable[[str, str, int, float], None] | None = None,
    ):
        self.transport = transport
        self.cfg = cfg or ClientConfig()
        self.retry = retry
        self.breaker = breaker
        # observer(method, path, status, seconds) after each attempt (metrics); status 0 = no answer
        self.observer = observer
        self._resources: dict[tuple[str, str], Resource] = {}
        self._discovered: set[str] = set()
        self._lock = threading.Lock()

    @property
    def connection(self) -> Connection:
        """Where and how this client reaches its API server (server, CA, verify): no credential."""
        return self.transport.connection

    @property
    def host(self) -> str:
        return self.transport.connection.server

    def _unreachable(self, what: str, err: BaseException) -> KubeError:
        if isinstance(err, ConfigError):  # credentials could not be renewed (tokenFile, exec plugin)
            return KubeError(f"{what}: no credentials for {self.host}: {err}", 0, "CredentialsUnavailable")
        if isinstance(err, _TLS_ERRORS):
            return KubeError(f"{what}: cannot reach {self.host}: TLS: {_tls_reason(err)}", 0, "TLSError")
        return KubeError(f"{what}: cannot reach {self.host}: {type(err).__name__}", 0)

    # -- raw requests

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping | None = None,
        content_type: str = JSON,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """One API call with retries; returns the parsed JSON body (None for empty)."""
        query_params = [(k, v) for k, v in (query or {}).items() if v is not None]
        if body is None:
            payload = None
        elif isinstance(body, (bytes, bytearray)):
            payload = bytes(body)
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = json.dumps(body).encode()
        headers = {"Content-Type": content_type, "Accept": JSON}

        def call():
            if self.breaker is not None:
                self.breaker.before_call(f"{method} {path}")
            started = time.monotonic()
            try:
                result = attempt()
            except KubeError as err:
                self._record(method, path, err.status, started, failed=is_transient(err))
                raise
            self._record(method, path, 200, started, failed=False)
            return result

        def attempt():
            try:
                response = self.transport.request(
                    method,
                    path,
                    query=query_params,
                    headers=headers,
                    body=payload,
                    timeout=urllib3.Timeout(total=timeout or self.cfg.request_timeout),
                )
            except (ConfigError, *_CONNECTION_ERRORS) as err:
                raise self._unreachable(f"{method} {path}", err) from None
            text = response.data.decode("utf-8", "replace") if response.data else ""
            if not 200 <= response.status < 300:
                message, reason, details = _status_message(response.status, text)
                if response.headers.get("Retry-After"):
                    details = {**details, "retry_after": response.headers.get("Retry-After")}
                raise KubeError(f"{method} {path}: {message}", response.status, reason, details)
            return json.loads(text) if text else None

        return with_retries(call, retry or self.retry)

    def _record(self, method: str, path: str, status: int, started: float, failed: bool) -> None:
        if self.breaker is not None:
            self.breaker.record(not failed)
        if self.observer is not None:
            self.observer(method, path, status, time.monotonic() - started)

    # -- watch

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = 240,
    ) -> Iterator[tuple[str, dict]]:
        """Stream (type, object) events from ``resource_version`` on; ends when the server closes.

        ``type`` is ADDED, MODIFIED, DELETED or BOOKMARK. A KubeError with status 410
        means the version is too old: list again (see daemons.Reflector).
        """
        res = self.resource(api_version, kind)
        path = res.path(namespace)
        if self.breaker is not None:
            self.breaker.before_call(f"WATCH {path}")
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", timeout_seconds)]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if label_selector:
            query.append(("labelSelector", label_selector))
        started = time.monotonic()
        try:
            raw = self.transport.request(
                "GET",
                path,
                query=query,
                headers={"Accept": JSON},
                timeout=urllib3.Timeout(connect=WATCH_CONNECT_TIMEOUT, read=timeout_seconds + 30),
                stream=True,
            )
        except (ConfigError, *_CONNECTION_ERRORS) as err:
            self._record("WATCH", path, 0, started, failed=True)
            raise self._unreachable(f"WATCH {path}", err) from None
        finished = False
        try:
            if raw.status != 200:
                body = raw.read().decode("utf-8", "replace")
                finished = True  # the error body was read whole
                message, reason, details = _status_message(raw.status, body)
                self._record("WATCH", path, raw.status, started, failed=raw.status >= 500)
                raise KubeError(f"WATCH {path}: {message}", raw.status, reason, details)
            self._record("WATCH", path, 200, started, failed=False)
            try:
                for line in raw:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise KubeError(
                            f"WATCH {path}: {status.get('message', 'error')}",
                            int(status.get("code") or 0),
                            status.get("reason", ""),
                        )
                    obj = event.get("object") or {}
                    obj.setdefault("apiVersion", api_version)
                    obj.setdefault("kind", kind)
                    yield event["type"], obj
            except _CONNECTION_ERRORS as err:
                raise KubeError(f"WATCH {path}: connection lost: {type(err).__name__}", 0) from None
            finished = True
        finally:
            if not finished:
                raw.close()  # left mid-stream (ERROR event, consumer gone): the server may still write to it
            raw.release_conn()

    # -- discovery

    def resource(self, api_version: str, kind: str) -> Resource:
        """Where ``kind`` lives, from discovery of its group-version (cached)."""
        key = (api_version, kind)
        found = self._resources.get(key)
        if found:
            return found
        with self._lock:
            if api_version not in self._discovered:
                self._discover(api_version)
        found = self._resources.get(key)
        if not found:
            raise KubeError(f"the API server at {self.host} does not serve kind {kind} in {api_version}", 404)
        return found

    def forget(self, api_version: str) -> None:
        """Drop cached discovery of a group-version (after installing CRDs)."""
        with self._lock:
            self._discovered.discard(api_version)
            for key in [k for k in self._resources if k[0] == api_version]:
                del self._resources[key]

    def _discover(self, api_version: str) -> None:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        try:
            listing = self.request("GET", path)
        except KubeError as err:
            if err.status == 404:
                raise KubeError(f"the API server at {self.host} does not serve {api_version}", 404) from None
            raise
        subresources: dict[str, set] = {}
        for item in listing.get("resources", []):
            name = item["name"]
            if "/" in name:
                parent, sub = name.split("/", 1)
                subresources.setdefault(parent, set()).add(sub)
        for item in listing.get("resources", []):
            if "/" in item["name"]:
                continue
            self._resources[(api_version, item["kind"])] = Resource(
                api_version,
                item["kind"],
                item["name"],
                item["namespaced"],
                frozenset(subresources.get(item["name"], ())),
            )
        self._discovered.add(api_version)

    # -- CRUD on dicts

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        res = self.resource(api_version, kind)
        try:
            return self.request("GET", res.path(namespace, name))
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict]:
        """Every object of a kind (all pages)."""
        return self.list_with_version(api_version, kind, namespace, label_selector, field_selector)[0]

    def list_with_version(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
        keep: Callable[[dict], dict] | None = None,
    ) -> tuple[list[dict], str]:
        """Every object (following continue tokens) and the list's resourceVersion.

        ``keep``: what to keep of each object, applied page by page, so that a large list never
        holds more than one page of whole objects (a watch cache keeps slim copies).
        """
        res = self.resource(api_version, kind)
        items: list[dict] = []
        token = None
        while True:
            page = self.request(
                "GET",
                res.path(namespace),
                query={
                    "labelSelector": label_selector,
                    "fieldSelector": field_selector,
                    "limit": limit,
                    "continue": token,
                },
            )
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item if keep is None else keep(item))
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items, page.get("metadata", {}).get("resourceVersion", "")

    def apply(
        self,
        obj: Mapping,
        field_manager: str,
        force: bool = True,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict:
        """Server-side apply of a whole object (or its status with subresource='status')."""
        meta = obj.get("metadata", {})
        res = self.resource(obj["apiVersion"], obj["kind"])
        return self.request(
            "PATCH",
            res.path(meta.get("namespace") if res.namespaced else None, meta["name"], subresource),
            body=obj,
            content_type=APPLY_PATCH,
            query={
                "fieldManager": field_manager,
                "force": "true" if force else None,
                "dryRun": "All" if dry_run else None,
            },
        )

    def create(self, obj: Mapping, dry_run: bool = False) -> dict:
        meta = obj.get("metadata", {})
        res = self.resource(obj["apiVersion"], obj["kind"])
        return self.request(
            "POST",
            res.path(meta.get("namespace") if res.namespaced else None),
            body=dict(obj),
            query={"dryRun": "All" if dry_run else None},
        )

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        content_type: str = MERGE_PATCH,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict:
        res = self.resource(api_version, kind)
        return self.request(
            "PATCH",
            res.path(namespace, name, subresource),
            body=patch,
            content_type=content_type,
            query={"dryRun": "All" if dry_run else None},
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        propagation: str = "Background",
        dry_run: bool = False,
    ) -> bool:
        """Delete one object; False when it was already gone."""
        res = self.resource(api_version, kind)
        try:
            self.request(
                "DELETE",
                res.path(namespace, name),
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation},
                query={"dryRun": "All" if dry_run else None},
            )
        except KubeError as err:
            if err.status == 404:
                return False
            raise
        return True

    def version(self) -> dict:
        return self.request("GET", "/version")

    def wait_for(self, check: Callable[[], Any], timeout: float, interval: float = 0.5, what: str = "condition") -> Any:
        """Poll ``check`` until it returns something truthy (monotonic clock)."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise KubeError(f"timed out after {timeout:g}s waiting for {what}", 0, "Timeout")
            time.sleep(interval)


# ------------------------------------------------------------------ apply with diff

_VOLATILE_METADATA = ("managedFields", "resourceVersion")


def comparable(obj: Mapping | None) -> dict | None:
    """The object without fields that change on every write (for change detection)."""
    if obj is None:
        return None
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in _VOLATILE_METADATA}
    return {**obj, "metadata": meta}


@dataclass
class Change:
    """What one ensure_* call did (or, in check mode, would do)."""

    changed: bool
    before: dict | None
    after: dict | None

    def diff(self) -> dict:
        return {"before": comparable(self.before) or {}, "after": comparable(self.after) or {}}


def ensure_applied(k: Kube, obj: Mapping, field_manager: str, check_mode: bool = False) -> Change:
    """Server-side apply ``obj`` unless the server says it would change nothing.

    A server-side dry run predicts the result, so check mode reports exactly
    what a real run would change (defaults and admission included).
    """
    meta = obj.get("metadata", {})
    before = k.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    predicted = k.apply(obj, field_manager, dry_run=True)
    if before is not None and comparable(before) == comparable(predicted):
        return Change(False, before, before)
    after = predicted if check_mode else k.apply(obj, field_manager)
    return Change(True, before, after)


def ensure_absent(k: Kube, obj: Mapping, check_mode: bool = False, propagation: str = "Background") -> Change:
    meta = obj.get("metadata", {})
    before = k.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    if before is None or before.get("metadata", {}).get("deletionTimestamp"):
        return Change(False, before, None)  # gone, or already being deleted
    if not check_mode:
        k.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"), propagation=propagation)
    return Change(True, before, None)


def _condition_true(obj: Mapping, condition: str) -> bool:
    return any(
        c.get("type") == condition and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


def is_ready(obj: Mapping | None) -> bool:
    """Readiness of the kinds TMC installs: CRDs Established, Namespaces Active, others exist."""
    if obj is None:
        return False
    kind = obj.get("kind")
    if kind == "CustomResourceDefinition":
        return _condition_true(obj, "Established")
    if kind == "Namespace":
        return (obj.get("status") or {}).get("phase") == "Active"
    return True


def wait_ready(k: Kube, obj: Mapping, timeout: float) -> dict:
    meta = obj.get("metadata", {})

    def current():
        found = k.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        return found if is_ready(found) else None

    return k.wait_for(current, timeout, what=f"{obj['kind']} {meta['name']} to be ready")


def wait_absent(k: Kube, obj: Mapping, timeout: float) -> None:
    meta = obj.get("metadata", {})
    k.wait_for(
        lambda: k.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")) is None,
        timeout,
        what=f"{obj['kind']} {meta['name']} to be deleted",
    )


# ------------------------------------------------------------------ kubeconfig


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data else None


def flatten_kubeconfig(k: Kube, name: str) -> dict:
    """A self-contained kubeconfig for the client ``k`` (certificates inlined, the token it presents now),
    e.g. to store a member's credentials in a hub Secret for push mode. Holds secrets: never log it."""
    conn = k.connection
    cluster: dict = {"server": conn.server}
    if conn.ca_data:
        cluster["certificate-authority-data"] = _b64(conn.ca_data)
    if not conn.verify:
        cluster["insecure-skip-tls-verify"] = True
    if conn.tls_server_name:
        cluster["tls-server-name"] = conn.tls_server_name
    if conn.proxy_url and not conn.proxy_from_environment:  # the environment here may not be the reader's
        cluster["proxy-url"] = conn.proxy_url
    creds = k.transport.current_credentials()
    user: dict = {}
    if creds.token:
        user["token"] = creds.token
    elif creds.username is not None and creds.password is not None:
        user["username"], user["password"] = creds.username, creds.password
    if creds.has_client_certificate:
        user["client-certificate-data"] = _b64(
            creds.cert_data or kubeconfig.read_file(creds.cert_file, "client-certificate")
        )
        user["client-key-data"] = _b64(creds.key_data or kubeconfig.read_file(creds.key_file, "client-key"))
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }
