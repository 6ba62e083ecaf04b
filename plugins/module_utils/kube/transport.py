# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP to one API server on urllib3: TLS contexts, connection pools, credentials on each request."""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from ansible_collections.tmc.multicluster.plugins.module_utils import kubeconfig
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.config import ClientConfig, _resolve
from ansible_collections.tmc.multicluster.plugins.module_utils.kubeconfig import ConfigError, Connection, Credentials

try:
    import urllib3
except ImportError:  # pragma: no cover - config.MISSING_LIBRARY says so before any use
    urllib3 = None

POOL_MAXSIZE = 16


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


def _causes(err: BaseException):
    """``err`` and what it wraps (``reason``, arguments, ``__cause__``/``__context__``), outermost first."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in getattr(current, "args", ()) if isinstance(a, BaseException)), None)
        current = inner or current.__cause__ or current.__context__


def connection_reason(err: BaseException) -> str:
    """Why a connection failed as a person says it ("connection refused", "timed out"), never a
    library's exception class name; no URL, no secret."""
    for cause in _causes(err):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(cause, TimeoutError) or type(cause).__name__ in ("ConnectTimeoutError", "ReadTimeoutError"):
            return "timed out"
        if isinstance(cause, socket.gaierror):
            return f"host name not resolved ({cause.strerror or cause})"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[0].lower() + cause.strerror[1:]
    return str(err).rsplit(": ", 1)[-1] or type(err).__name__


def make_transport(cfg: ClientConfig, maxsize: int = POOL_MAXSIZE) -> Transport:
    """A transport of its own for ``cfg``; its pool keeps up to ``maxsize`` idle connections."""
    connection, credentials = _resolve(cfg)
    return Transport(connection, credentials, maxsize)
