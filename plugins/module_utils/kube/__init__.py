# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to Kubernetes API servers: clients, retries, server-side apply.

Layer 3 of the engine (DESIGN.md section 1). Private to this collection. By concern:

- ``config``: ``ClientConfig`` describes how to reach one API server (kubeconfig path or
  dict, context, or host + token + CA), resolved against ``kubeconfig``.
- ``transport``: ``Transport`` speaks HTTP on urllib3 (one TLS context and connection pool
  per server). The ``kubernetes`` library is not used: its generated models cost ~20 MB per process.
- ``resilience``: ``with_retries`` retries transient failures only (connection errors, 5xx,
  429 honouring Retry-After) with exponential backoff and full jitter; ``CircuitBreaker``.
- ``client``: ``Kube`` wraps a transport with plain-dict CRUD, server-side apply,
  server-side dry run (check mode) and watches, resolving kinds to REST paths through
  discovery of just the group-version it needs; ``client_for`` keeps one pooled client
  per distinct configuration.
- ``ops``: ensure/wait helpers and a flattened kubeconfig.

Errors become ``KubeError`` with the API server's own message, which names the field at
fault. No error message or log line carries a credential. Everything is re-exported
here, so ``kube.Kube``, ``kube.KubeError``... work as before the package existed.
"""

from __future__ import annotations

from ansible_collections.tmc.multicluster.plugins.module_utils.kube.client import (  # noqa: F401
    APPLY_PATCH,
    JSON,
    JSON_PATCH,
    MERGE_PATCH,
    READS,
    USER_AGENT,
    WATCH_CONNECT_TIMEOUT,
    Kube,
    Resource,
    client_for,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.config import (  # noqa: F401
    HAS_URLLIB3,
    LIBRARY_IMPORT_ERROR,
    MISSING_LIBRARY,
    ClientConfig,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.errors import KubeError, NotLeader  # noqa: F401
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.ops import (  # noqa: F401
    Change,
    comparable,
    ensure_absent,
    ensure_applied,
    flatten_kubeconfig,
    is_ready,
    wait_absent,
    wait_ready,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.resilience import (  # noqa: F401
    NO_RETRY,
    CircuitBreaker,
    RetryPolicy,
    is_transient,
    retry_after,
    with_retries,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.transport import (  # noqa: F401
    POOL_MAXSIZE,
    Transport,
    make_transport,
    tls_context,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.kubeconfig import ConfigError  # noqa: F401
