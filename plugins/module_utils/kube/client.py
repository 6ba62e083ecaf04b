# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``Kube``: plain-dict access to one API server (discovery, CRUD, server-side apply, watch)."""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils.kube.config import ClientConfig
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.errors import KubeError
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.resilience import (
    DEFAULT_RETRY,
    CircuitBreaker,
    RetryPolicy,
    is_transient,
    with_retries,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.transport import (
    Transport,
    _tls_reason,
    connection_reason,
    make_transport,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.kubeconfig import ConfigError, Connection

try:
    import urllib3

    _CONNECTION_ERRORS: tuple = (urllib3.exceptions.HTTPError, OSError)
    _TLS_ERRORS: tuple = (urllib3.exceptions.SSLError, ssl.SSLError)
except ImportError:  # pragma: no cover - exercised only without the library
    _CONNECTION_ERRORS = (OSError,)
    _TLS_ERRORS = (ssl.SSLError,)

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
WATCH_CONNECT_TIMEOUT = 10.0
USER_AGENT = "tmc.multicluster"
READS = frozenset({"GET", "HEAD", "OPTIONS"})  # what a write gate lets through
# write_gate(what) -> seconds the write may still take; raises NotLeader to hold it back
WriteGate = Callable[[str], float]


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


# How the API server answers a server-side apply whose object does not fit its kind's schema (a
# misspelled field, a string for a number): status 500, whatever fieldValidation says.
_TYPED_PATCH_ERROR = re.compile(
    r"^failed to create typed patch object \((?P<object>[^;]*); (?P<kind>[^)]*)\): (?:errors:)?\s*(?P<problems>.*)$",
    re.DOTALL,
)


def schema_error(status: int, message: str) -> tuple[int, str, str] | None:
    """(status, reason, message) for an apply the API server refused because the object does not fit
    its schema: it answers 500, as if it had failed, though nothing will change on a retry. Reported
    as what it is, an invalid object (422, ``Invalid``), naming each field at fault. None for any
    other answer."""
    found = _TYPED_PATCH_ERROR.match(message or "") if status == 500 else None
    if found is None:
        return None
    problems = [line.strip() for line in found["problems"].splitlines() if line.strip()]
    hint = " (a misspelled field?)" if any("not declared in schema" in p for p in problems) else ""
    text = f"{found['object']} ({found['kind']}) does not fit its kind's schema{hint}: {'; '.join(problems)}"
    return 422, "Invalid", text


class Kube:
    """Plain-dict access to one API server.

    ``user_agent``: the User-Agent of every request (a daemon names its identity there, so that the
    API server's audit log tells its replicas apart). ``write_gate``: asked right before every attempt
    of every request that is not a read is sent (see ``WriteGate``); it may hold the write back
    (``NotLeader``) or shorten its timeout. Every write path goes through ``request``, so none
    bypasses it.
    """

    def __init__(
        self,
        transport: Transport,
        cfg: ClientConfig | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        breaker: CircuitBreaker | None = None,
        observer: Callable[[str, str, int, float], None] | None = None,
        user_agent: str = USER_AGENT,
        write_gate: WriteGate | None = None,
    ):
        self.transport = transport
        self.user_agent = user_agent
        self.write_gate = write_gate
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
        return KubeError(f"{what}: cannot connect to {self.host}: {connection_reason(err)}", 0)

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
        headers = {"Content-Type": content_type, "Accept": JSON, "User-Agent": self.user_agent}
        limit = timeout or self.cfg.request_timeout

        def call():
            budget = limit
            if self.write_gate is not None and method not in READS:
                budget = min(limit, self.write_gate(f"{method} {path}"))  # NotLeader: nothing is sent
            probe = self.breaker.before_call(f"{method} {path}") if self.breaker is not None else False
            started = time.monotonic()
            status, failed = 0, False
            try:
                result = attempt(budget)
                status = 200
                return result
            except KubeError as err:
                status, failed = err.status, is_transient(err)
                raise
            finally:
                self._record(method, path, status, started, failed, probe)

        def attempt(budget: float):
            try:
                response = self.transport.request(
                    method,
                    path,
                    query=query_params,
                    headers=headers,
                    body=payload,
                    timeout=urllib3.Timeout(total=budget),
                )
            except (ConfigError, *_CONNECTION_ERRORS) as err:
                raise self._unreachable(f"{method} {path}", err) from None
            text = response.data.decode("utf-8", "replace") if response.data else ""
            if not 200 <= response.status < 300:
                message, reason, details = _status_message(response.status, text)
                if response.headers.get("Retry-After"):
                    details = {**details, "retry_after": response.headers.get("Retry-After")}
                status = response.status
                invalid = schema_error(status, message)
                if invalid is not None:
                    status, reason, message = invalid
                raise KubeError(f"{method} {path}: {message}", status, reason, details)
            return json.loads(text) if text else None

        return with_retries(call, retry or self.retry)

    def _record(self, method: str, path: str, status: int, started: float, failed: bool, probe: bool = False) -> None:
        if self.breaker is not None:
            self.breaker.record(not failed, probe)
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
        probe = self.breaker.before_call(f"WATCH {path}") if self.breaker is not None else False
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
                headers={"Accept": JSON, "User-Agent": self.user_agent},
                timeout=urllib3.Timeout(connect=WATCH_CONNECT_TIMEOUT, read=timeout_seconds + 30),
                stream=True,
            )
        except (ConfigError, *_CONNECTION_ERRORS) as err:
            self._record("WATCH", path, 0, started, True, probe)
            raise self._unreachable(f"WATCH {path}", err) from None
        except BaseException:
            self._record("WATCH", path, 0, started, False, probe)  # not the server's fault; the probe is back
            raise
        finished = False
        try:
            if raw.status != 200:
                body = raw.read().decode("utf-8", "replace")
                finished = True  # the error body was read whole
                message, reason, details = _status_message(raw.status, body)
                self._record("WATCH", path, raw.status, started, raw.status >= 500, probe)
                raise KubeError(f"WATCH {path}: {message}", raw.status, reason, details)
            self._record("WATCH", path, 200, started, False, probe)
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
        """Delete one object; False when it was already gone. ``dry_run``: only asked, nothing deleted.

        The dry run travels in the DeleteOptions body: a DELETE that has a body is decoded from the
        body alone, and the API server ignores its query string (a ``?dryRun=All`` beside this body
        deleted for real). The query keeps it too, so that the audit log shows a dry run as one."""
        res = self.resource(api_version, kind)
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if dry_run:
            options["dryRun"] = ["All"]
        try:
            self.request(
                "DELETE",
                res.path(namespace, name),
                body=options,
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
