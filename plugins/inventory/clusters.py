# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: clusters
short_description: TMC member clusters registered with the hub, as inventory hosts
version_added: 0.1.0
author:
  - Jesse Sanford (@jessesanford)
description:
  - Reads the C(ClusterRegistration)s of a TMC hub and adds one host per registered member cluster, named after
    the cluster.
  - Groups the hosts by location (C(location_<location>)), by the values of the label keys listed in
    O(group_by_labels) (C(<key>_<value>)), by health (C(ready) and C(not_ready)) and cordon (C(cordoned)). Group
    names are sanitized; every character other than a letter, a digit or C(_) becomes C(_), so location
    V(us-east) gives the group C(location_us_east).
  - Sets host variables with each cluster's health and capacity, computed at the time of the run from the
    cluster's heartbeat Lease exactly as M(tmc.multicluster.cluster_info) does. The C(tmc_*) variables are listed
    in the notes below.
  - Never sets a credential as a variable. The member credentials Secret of push mode, the syncer's token and
    the hub connection options (O(api_key), O(kubeconfig)) are not part of the inventory, not cached and not shown
    in error messages.
  - Each host gets C(ansible_connection=local), because a cluster is not a machine to log in to; tasks that
    target a cluster host run on the controller. Override it with O(compose) when needed.
  - Uses a YAML configuration file whose name ends with C(tmc_clusters.yml) or C(tmc_clusters.yaml), for example
    C(hub.tmc_clusters.yml).
options:
  plugin:
    description: Marks the file as a source for this plugin.
    required: true
    type: str
    choices: [tmc.multicluster.clusters]
  kubeconfig:
    description:
      - Path to a kubeconfig file for the hub, or the kubeconfig itself as a dictionary.
      - When neither O(kubeconfig) nor O(host) is given, E(KUBECONFIG) or C(~/.kube/config) is used.
      - A relative path is relative to the current directory.
    type: raw
    env:
      - name: K8S_AUTH_KUBECONFIG
  context:
    description: The kubeconfig context to use. Defaults to the kubeconfig's current context.
    type: str
    env:
      - name: K8S_AUTH_CONTEXT
  host:
    description: URL of the hub API server, for example V(https://127.0.0.1:6443). Overrides the kubeconfig's server.
    type: str
    env:
      - name: K8S_AUTH_HOST
  api_key:
    description:
      - Bearer token for the hub API server. Never shown, cached or part of an error message.
      - Prefer the E(K8S_AUTH_API_KEY) environment variable or a vaulted value (C(!vault)) to a token written
        in the file.
    type: str
    env:
      - name: K8S_AUTH_API_KEY
  ca_cert:
    description: Path to the CA certificate that signed the hub API server's certificate.
    type: path
    aliases: [ssl_ca_cert]
    env:
      - name: K8S_AUTH_SSL_CA_CERT
  client_cert:
    description: Path to a client certificate for TLS client authentication to the hub.
    type: path
    aliases: [cert_file]
    env:
      - name: K8S_AUTH_CERT_FILE
  client_key:
    description: Path to the key of O(client_cert). Never shown.
    type: path
    aliases: [key_file]
    env:
      - name: K8S_AUTH_KEY_FILE
  validate_certs:
    description:
      - Whether to verify the hub API server's certificate. Turn it off only for throw-away labs.
      - Unset, the kubeconfig's own setting applies (verification on unless it says otherwise).
    type: bool
    aliases: [verify_ssl]
    env:
      - name: K8S_AUTH_VERIFY_SSL
  request_timeout:
    description: Seconds to wait for one API call (connection errors and 5xx answers are retried a few times).
    type: float
    default: 30
  feature_gates:
    description:
      - "TMC feature gates, for example C({TMC: true}). With the master gate C(TMC) off the plugin fails and says so."
    type: dict
    default: {}
  label_selector:
    description:
      - Only clusters whose labels match this Kubernetes label selector, for example V(tier=prod,gpu!=true).
      - Evaluated by the hub API server.
    type: str
  heartbeat_threshold:
    description:
      - Seconds without heartbeat after which a cluster is not Ready (C(tmc_ready=false), group C(not_ready)) and
        counts as tainted V(tmc.kcp.io/unreachable:NoSchedule).
    type: float
    default: 40
  eviction_timeout:
    description:
      - Seconds without heartbeat after which a cluster counts as tainted V(tmc.kcp.io/unreachable:NoExecute)
        too (its workloads fail over). At least O(heartbeat_threshold).
    type: float
    default: 300
  group_by_labels:
    description:
      - Label keys to group by. For each key, a cluster joins the group C(<key>_<value>) (sanitized) of its label's
        value; V([tier, gpu]) gives groups like C(tier_prod) and C(gpu_true).
      - A cluster without the label, or with an empty value, joins no group for that key.
      - For other group names use O(keyed_groups) on C(tmc_labels).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
requirements:
  - python >= 3.11
  - urllib3 >= 2.0
  - PyYAML
notes:
  - "Host variables of each cluster:
    C(tmc_cluster_name) (the registration's name),
    C(tmc_location),
    C(tmc_labels) (dict),
    C(tmc_ready) (bool; true only when the Ready condition is True),
    C(tmc_ready_status) (V(True), V(False) or V(Unknown)),
    C(tmc_ready_reason) (for example V(ClusterReady), V(HeartbeatStale), V(NoHeartbeat), V(APIUnreachable)),
    C(tmc_heartbeat_age_seconds) (float, or null when the cluster never renewed its heartbeat),
    C(tmc_last_heartbeat) (RFC 3339),
    C(tmc_schedulable) (bool; false when cordoned or tainted V(NoSchedule) or V(NoExecute)),
    C(tmc_cordoned) (bool; C(spec.unschedulable)),
    C(tmc_taints) (list of C(key), C(value), C(effect), C(timeAdded); the spec's and the health taints),
    C(tmc_capacity) and C(tmc_allocatable) (dicts of C(cpu), C(memory), C(pods) quantities summed over the
    member's nodes),
    C(tmc_kubernetes_version),
    C(tmc_sync_mode) (V(Push) or V(Pull)),
    C(tmc_endpoint) (the member API server URL; not a credential),
    C(tmc_workloads) (number of SyncWorks assigned to the cluster),
    C(tmc_workloads_applied) and C(tmc_workloads_available) (how many of those are applied and available
    on the member; null when the hub identity may not list SyncWorks),
    C(tmc_hub_namespace) (the hub namespace C(tmc-cluster-<name>) with the cluster's SyncWorks),
    and C(ansible_connection=local)."
  - The hub identity needs C(list) on C(clusterregistrations.tmc.kcp.io) (the ClusterRole C(tmc-view) that the role
    M(tmc.multicluster.hub) installs grants it), and for accurate results C(list) on C(syncworks.tmc.kcp.io) in all
    namespaces and on C(leases) in C(tmc-system). Without the Lease permission the heartbeat time comes from the
    registration's C(status.lastHeartbeatTime), which the controller refreshes at most once a minute while the
    cluster's health does not change, so the thresholds are then widened by 60 seconds; without the SyncWork
    permission the workload count comes from C(status.workloads). The plugin warns in both cases.
  - With O(cache) enabled the cluster data is cached as read; C(tmc_heartbeat_age_seconds) and the health
    variables are then as of the time the cache was filled. Use C(--flush-cache) to read the hub again.
  - When the hub cannot be read, the inventory source fails with a message that names the option or
    permission to fix. C(ansible-inventory) and C(ansible-playbook) report a failed source as a warning unless
    E(ANSIBLE_INVENTORY_UNPARSED_FAILED) is true.
seealso:
  - module: tmc.multicluster.cluster_info
  - module: tmc.multicluster.cluster_registration
  - name: Clusters concept
    description: Registration, heartbeats, health, cordon and deregistration of member clusters.
    link: https://github.com/tmc-multicluster/tmc.multicluster/blob/main/docs/concepts/clusters.md
"""

EXAMPLES = r"""
# hub.tmc_clusters.yml: every registered cluster, using ~/.kube/config (or $KUBECONFIG) for the hub.
plugin: tmc.multicluster.clusters

---
# prod.tmc_clusters.yml: production clusters of a given hub, grouped by tier and gpu labels
# (groups location_us_east, tier_prod, gpu_true, ready, not_ready, cordoned, ...).
plugin: tmc.multicluster.clusters
kubeconfig: ~/.kube/hub.kubeconfig
context: hub-admin
label_selector: env=prod
group_by_labels:
  - tier
  - gpu

---
# token.tmc_clusters.yml: a bearer token from the environment (K8S_AUTH_API_KEY) and an explicit server.
plugin: tmc.multicluster.clusters
host: https://hub.example.com:6443
ca_cert: /etc/tmc/hub-ca.crt

---
# health.tmc_clusters.yml: stricter health, extra groups and variables with the constructed features,
# cached for five minutes in JSON files.
plugin: tmc.multicluster.clusters
heartbeat_threshold: 20
eviction_timeout: 120
compose:
  # The member kubeconfig for tasks against the cluster comes from your own files, never from TMC.
  member_kubeconfig: "'/etc/tmc/kubeconfigs/' ~ inventory_hostname ~ '.kubeconfig'"
  cpu_free: tmc_allocatable.cpu | default(0) | int
groups:
  schedulable: tmc_schedulable
  gpu_capable: tmc_labels.gpu | default('false') == 'true' and tmc_ready
  has_workloads: tmc_workloads > 0
keyed_groups:
  - key: tmc_sync_mode
    prefix: sync
  - key: tmc_kubernetes_version
    prefix: k8s
strict: false
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/tmc-inventory
cache_timeout: 300
"""

import datetime as dt
import difflib
import os
import re
from collections.abc import Mapping

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters

CONFIG_SUFFIXES = ("tmc_clusters.yml", "tmc_clusters.yaml")
GROUP_READY = "ready"
GROUP_NOT_READY = "not_ready"
GROUP_CORDONED = "cordoned"
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_HUB_OPTIONS = "kubeconfig, context, host, api_key, ca_cert, client_cert/client_key, validate_certs"


def safe_group_name(text: str) -> str:
    """A valid Ansible group name: anything but letters, digits and '_' becomes '_'."""
    name = _UNSAFE.sub("_", text)
    return f"_{name}" if name[:1].isdigit() else name


def host_variables(view: Mapping) -> dict:
    """Host variables of one cluster from its ``cluster_view`` (which holds no credential)."""
    name = view["name"]
    return {
        "tmc_cluster_name": name,
        "tmc_location": view.get("location"),
        "tmc_labels": dict(view.get("labels") or {}),
        "tmc_ready": bool(view.get("ready")),
        "tmc_ready_status": view.get("ready_status"),
        "tmc_ready_reason": view.get("ready_reason"),
        "tmc_heartbeat_age_seconds": view.get("heartbeat_age_seconds"),
        "tmc_last_heartbeat": view.get("last_heartbeat"),
        "tmc_schedulable": bool(view.get("schedulable")),
        "tmc_cordoned": bool(view.get("cordoned")),
        "tmc_taints": [dict(t) for t in view.get("taints") or []],
        "tmc_capacity": dict(view.get("capacity") or {}),
        "tmc_allocatable": dict(view.get("allocatable") or {}),
        "tmc_kubernetes_version": view.get("kubernetes_version"),
        "tmc_sync_mode": view.get("sync_mode"),
        "tmc_endpoint": view.get("endpoint"),
        "tmc_workloads": view.get("workloads") or 0,
        "tmc_workloads_applied": view.get("applied"),
        "tmc_workloads_available": view.get("available"),
        "tmc_hub_namespace": api.cluster_namespace(name),
        "ansible_connection": "local",
    }


def host_groups(view: Mapping, group_by_labels: list[str]) -> list[str]:
    """The plugin's own groups for one cluster (before the constructed features)."""
    groups = []
    if view.get("location"):
        groups.append(safe_group_name(f"location_{view['location']}"))
    labels = view.get("labels") or {}
    for key in group_by_labels:
        value = labels.get(key)
        if value not in (None, ""):
            groups.append(safe_group_name(f"{key}_{value}"))
    groups.append(GROUP_READY if view.get("ready") else GROUP_NOT_READY)
    if view.get("cordoned"):
        groups.append(GROUP_CORDONED)
    return groups


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "tmc.multicluster.clusters"

    def verify_file(self, path):
        """Only files named ``*tmc_clusters.yml`` or ``*tmc_clusters.yaml``."""
        return super().verify_file(path) and path.endswith(CONFIG_SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        self._warn_unknown_options(config, path)
        thresholds = self._thresholds()
        use_cache = self.get_option("cache")
        cache_key = self.get_cache_key(path)
        views = None
        if use_cache and cache:
            try:
                views = self._cache[cache_key]
            except KeyError:
                views = None
        if views is None:
            views = self._read_hub(thresholds)
            if use_cache:
                self._cache[cache_key] = views
        self._populate(views)

    # ------------------------------------------------------------ options

    def _warn_unknown_options(self, config, path: str) -> None:
        """Ansible ignores keys the plugin does not document: a misspelled option would read as no filter at
        all, so each one is named, with the option it probably meant."""
        known = set(self._options or {})
        for key in sorted(str(k) for k in (config or {}) if str(k) not in known):
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.display.warning(f"{self.NAME}: {path}: unknown option {key!r} is ignored{hint}")

    def _thresholds(self) -> health.Thresholds:
        try:
            api.FeatureGates.from_overrides(self.get_option("feature_gates")).require(api.MASTER_GATE)
            return health.Thresholds(
                float(self.get_option("heartbeat_threshold")), float(self.get_option("eviction_timeout"))
            )
        except api.TMCError as err:
            raise AnsibleParserError(f"{self.NAME}: {err}") from None

    def _client_config(self) -> kube.ClientConfig:
        kubeconfig = self.get_option("kubeconfig")
        if isinstance(kubeconfig, str):
            kubeconfig = os.path.expanduser(kubeconfig) if kubeconfig.strip() else None
        elif kubeconfig is not None and not isinstance(kubeconfig, Mapping):
            raise AnsibleParserError(f"{self.NAME}: kubeconfig must be a path or a dictionary")
        api_key = self.get_option("api_key")
        validate = self.get_option("validate_certs")
        return kube.ClientConfig(
            kubeconfig=kubeconfig,
            context=self.get_option("context") or None,
            host=self.get_option("host") or None,
            api_key=str(api_key) if api_key else None,
            ca_cert=self.get_option("ca_cert") or None,
            client_cert=self.get_option("client_cert") or None,
            client_key=self.get_option("client_key") or None,
            validate_certs=True if validate is None else bool(validate),
            request_timeout=float(self.get_option("request_timeout") or 30),
        )

    # ------------------------------------------------------------ reading the hub

    def _read_hub(self, thresholds: health.Thresholds) -> list[dict]:
        """Every matching cluster's view (health now), sorted by name. Holds no credential."""
        if kube.MISSING_LIBRARY:
            raise AnsibleParserError(
                f"{self.NAME}: the Python library '{kube.MISSING_LIBRARY}' is required on the controller "
                f"(pip install {kube.MISSING_LIBRARY}): {kube.LIBRARY_IMPORT_ERROR}"
            )
        cfg = self._client_config()
        secrets = _secrets_of(cfg)
        try:
            hub = kube.client_for(cfg)
        except kube.ConfigError as err:
            raise AnsibleParserError(
                _scrub(f"{self.NAME}: cannot connect to the hub: {err}. Fix the hub options ({_HUB_OPTIONS}).", secrets)
            ) from None
        selector = self.get_option("label_selector") or None
        try:
            registrations = hub.list(api.API_VERSION, api.KIND_CLUSTER, label_selector=selector)
            leases = self._optional(hub, clusters.heartbeat_leases, "leases", api.SYSTEM_NAMESPACE)
            works = self._optional(hub, clusters.work_counts, "syncworks.tmc.kcp.io", None)
        except kube.KubeError as err:
            raise AnsibleParserError(_scrub(self._explain(err, hub.host, selector), secrets)) from None
        if leases is None:
            leases = {r["metadata"]["name"]: _lease_from_status(r) for r in registrations}
            # The controller refreshes status.lastHeartbeatTime at most once a minute while the health
            # does not change: judged from it, a heartbeat may be that much older than the Lease's.
            slack = clusters.HEARTBEAT_STATUS_INTERVAL
            thresholds = health.Thresholds(thresholds.heartbeat + slack, thresholds.eviction + slack)
        if works is None:
            works = {r["metadata"]["name"]: _counts_from_status(r) for r in registrations}
        now = dt.datetime.now(dt.UTC)
        views = [
            clusters.cluster_view(r, leases.get(r["metadata"]["name"]), works, now, thresholds) for r in registrations
        ]
        return sorted(views, key=lambda v: v["name"])

    def _optional(self, hub: kube.Kube, read, resource: str, namespace: str | None):
        """``read(hub)``, or None with a warning when the hub identity may not list ``resource``."""
        try:
            return read(hub)
        except kube.KubeError as err:
            if err.status != 403:
                raise
        where = f"in namespace {namespace}" if namespace else "in all namespaces"
        fallback = "status.lastHeartbeatTime" if resource == "leases" else "status.workloads"
        self.display.warning(
            f"{self.NAME}: the hub identity may not list {resource} {where}; using each registration's {fallback} "
            f"instead. Grant 'list' on {resource} {where} for exact values."
        )
        return None

    def _explain(self, err: kube.KubeError, host: str, selector: str | None) -> str:
        """What went wrong reading the hub, and what to fix."""
        where = f"the hub at {host}"
        if err.status == 0:
            return (
                f"{self.NAME}: cannot reach {where}: {err}. Check that the hub API server is running and the hub "
                f"options ({_HUB_OPTIONS}; or the K8S_AUTH_* environment variables) point at it."
            )
        if err.status == 401:
            return (
                f"{self.NAME}: {where} refused the credentials (401 Unauthorized). Give a valid api_key, client "
                "certificate or kubeconfig user for the hub."
            )
        if err.status == 403:
            return (
                f"{self.NAME}: {where} forbids this: {err}. Bind the hub identity to a role that may list "
                "clusterregistrations.tmc.kcp.io, for example the ClusterRole tmc-view with a ClusterRoleBinding."
            )
        if err.status == 404:
            return (
                f"{self.NAME}: {where} does not serve the TMC API ({api.API_VERSION}): {err}. Install it with the "
                "role tmc.multicluster.hub, or point the hub options at the TMC hub."
            )
        if err.status == 400 and selector:
            return f"{self.NAME}: label_selector {selector!r} is not valid: {err}"
        return f"{self.NAME}: reading clusters from {where} failed (HTTP {err.status}): {err}"

    # ------------------------------------------------------------ inventory

    def _populate(self, views: list[dict]) -> None:
        group_by_labels = [str(k) for k in self.get_option("group_by_labels") or []]
        strict = self.get_option("strict")
        for view in views:
            host = self.inventory.add_host(view["name"])
            for key, value in host_variables(view).items():
                self.inventory.set_variable(host, key, value)
            for group in host_groups(view, group_by_labels):
                self.inventory.add_child(self.inventory.add_group(group), host)
            hostvars = self.inventory.get_host(host).get_vars()
            self._set_composite_vars(self.get_option("compose"), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host, strict=strict)


def _lease_from_status(registration: Mapping) -> dict | None:
    beat = (registration.get("status") or {}).get("lastHeartbeatTime")
    return {"spec": {"renewTime": beat}} if beat else None


def _counts_from_status(registration: Mapping) -> dict:
    count = (registration.get("status") or {}).get("workloads") or 0
    return {"workloads": count, "applied": None, "available": None}


def _secrets_of(cfg: kube.ClientConfig) -> list[str]:
    """Every secret string of the hub options, to keep them out of error messages."""
    found = [cfg.api_key] if cfg.api_key else []
    if isinstance(cfg.kubeconfig, Mapping):
        for user in cfg.kubeconfig.get("users") or []:
            for value in ((user or {}).get("user") or {}).values():
                if isinstance(value, str) and len(value) >= 8:
                    found.append(value)
    return found


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "********")
    return text
