# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to Kubernetes API servers: clients, retries, server-side apply.

Layer 3 of the engine (DESIGN.md section 1). Private to this collection.

- ``ClientConfig`` describes how to reach one API server (kubeconfig path or
  dict, context, or host + token + CA); ``client_for`` keeps one pooled client
  per distinct configuration.
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
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    from kubernetes.config.config_exception import ConfigException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as err:  # pragma: no cover - exercised only without the library
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = err

    class ApiException(Exception):  # type: ignore[no-redef]
        """Stands in for the library's class so that except clauses stay valid."""

    ConfigException = ApiException  # type: ignore[misc,assignment]

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class KubeError(api.TMCError):
    """An API call failed; ``status`` is the HTTP status (0 for connection errors)."""

    def __init__(self, message: str, status: int = 0, reason: str = "", details: Mapping | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.details = dict(details or {})


class ConfigError(api.TMCError):
    """The connection options cannot make a client; the message says which option to fix."""


# ------------------------------------------------------------------ config


@dataclass(frozen=True)
class ClientConfig:
    """How to reach one API server. Either a kubeconfig (path or dict, optional
    context) or host + api_key/client certificate + ca_cert."""

    kubeconfig: str | Mapping | None = None
    context: str | None = None
    host: str | None = None
    api_key: str | None = field(default=None, repr=False)
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = field(default=None, repr=False)
    validate_certs: bool = True
    request_timeout: float = 30.0

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
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(raw.encode()).hexdigest()


def _configuration(cfg: ClientConfig):
    if not HAS_KUBERNETES:
        raise ConfigError(f"the Python library 'kubernetes' is required ({KUBERNETES_IMPORT_ERROR})")
    configuration = k8s_client.Configuration()
    if cfg.kubeconfig is not None or not cfg.host:
        try:
            if isinstance(cfg.kubeconfig, Mapping):
                k8s_config.load_kube_config_from_dict(
                    dict(cfg.kubeconfig), context=cfg.context, client_configuration=configuration
                )
            else:
                k8s_config.load_kube_config(
                    config_file=cfg.kubeconfig, context=cfg.context, client_configuration=configuration
                )
        except (ConfigException, OSError, TypeError, ValueError) as err:
            where = "kubeconfig" if cfg.kubeconfig is not None else "kubeconfig (default ~/.kube/config)"
            raise ConfigError(f"cannot load {where}: {_scrub(str(err), cfg)}") from None
    if cfg.host:
        configuration.host = cfg.host
    if cfg.api_key:
        configuration.api_key = {"authorization": "Bearer " + cfg.api_key}
    if cfg.ca_cert:
        configuration.ssl_ca_cert = cfg.ca_cert
    if cfg.client_cert:
        configuration.cert_file = cfg.client_cert
    if cfg.client_key:
        configuration.key_file = cfg.client_key
    if not cfg.validate_certs:
        configuration.verify_ssl = False
    if not configuration.host:
        raise ConfigError("no API server: give kubeconfig (with a current context) or host")
    configuration.retries = False  # we retry ourselves, transient errors only
    configuration.connection_pool_maxsize = 16
    return configuration


def _scrub(text: str, cfg: ClientConfig) -> str:
    for secret in (cfg.api_key,):
        if secret:
            text = text.replace(secret, "********")
    return text


_POOL: dict[str, Kube] = {}
_POOL_LOCK = threading.Lock()


def client_for(cfg: ClientConfig) -> Kube:
    """The pooled ``Kube`` for this configuration (one connection pool per cluster)."""
    key = cfg.pool_key()
    with _POOL_LOCK:
        kube = _POOL.get(key)
        if kube is None:
            kube = Kube(k8s_client.ApiClient(_configuration(cfg)), cfg)
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
        api_client,
        cfg: ClientConfig | None = None,
        retry: RetryPolicy = RetryPolicy(),
        breaker: CircuitBreaker | None = None,
        observer: Callable[[str, str, int, float], None] | None = None,
    ):
        self.api_client = api_client
        self.cfg = cfg or ClientConfig()
        self.retry = retry
        self.breaker = breaker
        # observer(method, path, status, seconds) after each attempt (metrics); status 0 = no answer
        self.observer = observer
        self._resources: dict[tuple[str, str], Resource] = {}
        self._discovered: set[str] = set()
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        return self.api_client.configuration.host

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
        if isinstance(body, (dict, list)) and content_type == APPLY_PATCH:
            body = json.dumps(body)

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
                method_, url, headers, body_, post = self.api_client.param_serialize(
                    method,
                    path,
                    query_params=query_params,
                    header_params={"Content-Type": content_type, "Accept": JSON},
                    body=body,
                    auth_settings=["BearerToken"],
                )
                response = self.api_client.call_api(
                    method_,
                    url,
                    header_params=headers,
                    body=body_,
                    post_params=post,
                    _request_timeout=timeout or self.cfg.request_timeout,
                )
                data = response.read()
            except ApiException as err:
                raise KubeError(f"{method} {path}: cannot reach {self.host}: {err.reason}", 0) from None
            except (urllib3.exceptions.HTTPError, OSError) as err:
                raise KubeError(f"{method} {path}: cannot reach {self.host}: {type(err).__name__}", 0) from None
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")
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
            method_, url, headers, _body, _post = self.api_client.param_serialize(
                "GET", path, query_params=query, header_params={"Accept": JSON}, auth_settings=["BearerToken"]
            )
            response = self.api_client.call_api(
                method_, url, header_params=headers, _request_timeout=(10, timeout_seconds + 30)
            )
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as err:
            self._record("WATCH", path, 0, started, failed=True)
            raise KubeError(f"WATCH {path}: cannot reach {self.host}: {type(err).__name__}", 0) from None
        raw = response.response
        try:
            if response.status != 200:
                message, reason, details = _status_message(response.status, raw.read().decode("utf-8", "replace"))
                self._record("WATCH", path, response.status, started, failed=response.status >= 500)
                raise KubeError(f"WATCH {path}: {message}", response.status, reason, details)
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
            except (urllib3.exceptions.HTTPError, OSError) as err:
                raise KubeError(f"WATCH {path}: connection lost: {type(err).__name__}", 0) from None
        finally:
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


def _file_data(path: str | None) -> str | None:
    if not path:
        return None
    with open(path, "rb") as handle:
        return base64.b64encode(handle.read()).decode()


def flatten_kubeconfig(k: Kube, name: str) -> dict:
    """A self-contained kubeconfig for the client ``k`` (certificates inlined), e.g. to store
    a member's credentials in a hub Secret for push mode. Holds secrets: never log it."""
    conf = k.api_client.configuration
    cluster: dict = {"server": conf.host}
    ca = _file_data(conf.ssl_ca_cert)
    if ca:
        cluster["certificate-authority-data"] = ca
    if not conf.verify_ssl:
        cluster["insecure-skip-tls-verify"] = True
    user: dict = {}
    token = (conf.api_key or {}).get("authorization", "")
    if token.startswith("Bearer "):
        user["token"] = token[len("Bearer ") :]
    cert, key = _file_data(conf.cert_file), _file_data(conf.key_file)
    if cert and key:
        user["client-certificate-data"] = cert
        user["client-key-data"] = key
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }
