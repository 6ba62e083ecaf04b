# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The placement engine: which member clusters a WorkloadPlacement selects, and why.

A package (``shared/DESIGN.md`` section 1): ``quantity`` (Kubernetes quantities
and times), ``model`` (cluster views, selectors, taints, snapshots), ``spec``
(the validated, compiled placement), ``cel`` (predicates), ``filters``,
``scoring``, ``spread`` (selection), ``division`` (replicas), ``explain``
(results and why), ``engine`` (``decide``) and ``index`` (incremental). This
module re-exports the public names, so ``placement.decide(...)`` works as before.

Private to this collection (module_utils are not a public API). Pure: no I/O,
no Kubernetes calls and no implicit clock -- the time, when a decision depends
on it, is the explicit ``now`` argument. The same inputs always give the same
decisions, whatever the order of the cluster list and in whichever process.

Entry points
------------
``decide(placement, clusters, previous=None, namespace_labels=None, *, gates=None,
now=None, replicas=None, per_replica_request=None) -> PlacementResult``
    One-shot decision (the ``placement`` module, the ``place`` filter).
``PlacementIndex``
    The incremental form for the controller: clusters are parsed once and
    indexed by label and location; ``update_cluster`` / ``remove_cluster``
    return the keys of the placements whose decisions the change can alter;
    ``PlacementIndex.decide`` gets candidates from the indexes (set algebra)
    before any per-cluster work or CEL, and patches its last decision when it
    can prove the patch equal to a full decide. Its answers always equal
    :func:`decide`'s over the same clusters (a property test holds it to that).
``divide_replicas(total, decisions, per_replica_request=None)``
    Splits one workload's replica count over weighted decisions.
``parse_quantity``, ``cluster_view``, ``compile_placement``
    The building blocks, usable on their own.

Inputs
------
``placement`` is a WorkloadPlacement object (``metadata`` + ``spec``) or its
spec alone. ``clusters`` are ClusterRegistration objects (``metadata.name``,
``metadata.labels``, ``spec``, ``status``) or the simple form ``{name, labels,
location, allocatable, capacity, taints, unschedulable, namespaceSelector,
workloads}``. Each cluster is parsed once into a frozen :class:`ClusterView`:
cpu in cores (float), memory in bytes (int), pods (int); effective taints are
``spec.taints`` + ``status.taints``; declared ``spec.capacity`` overrides the
measured capacity and caps the allocatable.

How a decision is made
----------------------
1. **Filters.** A cluster is *eligible* when all of these hold, checked in this
   order: ``clusterSelector`` (matchLabels and matchExpressions In, NotIn,
   Exists, DoesNotExist); ``locations`` (the cluster's ``spec.location`` is
   listed); the cluster's ``spec.namespaceSelector`` matches the labels of the
   placement's namespace (which always carry ``kubernetes.io/metadata.name``);
   not cordoned (``unschedulable`` rejects unless a toleration matches the
   taint ``tmc.kcp.io/unschedulable:NoSchedule``); every taint tolerated (a
   NoExecute taint with ``timeAdded`` is tolerated only until ``timeAdded +
   tolerationSeconds``; the most permissive matching toleration counts; with
   no ``now`` a time-limited toleration counts as expired); no allocatable
   resource known to be zero ("not enough capacity"); and finally every CEL
   predicate true. A cluster in ``previous`` keeps its place despite
   NoSchedule taints and a cordon: like Kubernetes nodes, NoSchedule stops new
   placements and NoExecute evicts.
2. **Scores.** Each prioritizer gives every eligible cluster a value in
   0..100: ``Balance`` prefers fewer workloads (``status.workloads``) and
   ``Capacity`` more allocatable cpu and memory (the mean of the two), each
   min-max normalised over the eligible clusters (0 for all when they are all
   equal); ``Steady`` gives 100 to clusters in ``previous``, 0 to others. The
   score is the sum of weight x value, in the order Balance, Steady, Capacity.
   Without ``prioritizers`` the default is Balance(1) + Steady(1).
3. **Selection.** Clusters are ranked by score descending, then name
   ascending. Without spread constraints the first ``numberOfClusters`` are
   chosen (every eligible cluster when it is absent). With spread constraints
   selection is greedy in rank order: groups are the distinct values of the
   topology key (``location`` or a label key; clusters without a value are
   left out); ``maxGroups`` keeps the groups of the best-ranked clusters;
   until ``minGroups`` groups are used only clusters opening a new group are
   taken; a cluster is taken only if afterwards, in every constraint, the
   largest group count minus the smallest count over the allowed groups is at
   most ``maxSkew``. When ``minGroups`` cannot be met nothing is selected.
4. **Replicas.** ``Duplicated`` runs the whole workload on every cluster
   (weight 1). ``Divided`` gives each cluster a weight -- static
   ``weights[]`` (absent = 0), ``dynamic: AvailableCapacity`` (allocatable
   cpu in millicores, or the number of replicas that fit when a per-replica
   request is known), or 1 each -- and :func:`divide_replicas` splits a
   replica count by the largest-remainder rule.

Results
-------
:class:`PlacementResult` has ``decisions`` (``[{cluster, weight, replicas?,
reason}]``, by cluster name), ``explanations`` (``{cluster: {selected,
reasons}}`` for every cluster given, computed on first access) and
``to_status()`` (the ``status.decisions`` list of the API contract).

Rejection reasons start with a fixed category: ``label mismatch``,
``location``, ``namespace not allowed``, ``unschedulable``, ``taint not
tolerated``, ``not enough capacity``, ``predicate false``, ``predicate
error``, ``spread limit``, ``cut by numberOfClusters``.

Errors and gates
----------------
A spec that cannot be used raises :class:`api.SpecError` naming the field
(``spec.predicates[1]``, ``spec.spreadConstraints[0].maxGroups``, ...). With
the ``TMCAdvancedPlacement`` gate off, spread constraints, prioritizers,
predicates and replica weights (static or dynamic) raise
:class:`api.FeatureGateError` naming the gate.

"""

from __future__ import annotations

from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.division import (
    divide_replicas,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.engine import (
    decide,
    previous_clusters,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.explain import (
    PlacementResult,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.index import (
    PlacementIndex,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    ADVANCED_GATE,
    DEFAULT_PRIORITIZERS,
    DIVIDED,
    DUPLICATED,
    DYNAMIC_AVAILABLE_CAPACITY,
    NAMESPACE_NAME_LABEL,
    NO_EXECUTE,
    NO_RESOURCES,
    NO_SCHEDULE,
    PLAIN_ADMISSION,
    PRIORITIZERS,
    SELECTOR_OPERATORS,
    TAINT_EFFECTS,
    TOPOLOGY_LOCATION,
    UNSCHEDULABLE_TAINT,
    ClusterView,
    Requirement,
    Resources,
    Selector,
    Snapshot,
    Taint,
    cluster_view,
    cluster_views,
    decision_inputs_changed,
    parse_selector,
    parse_taint,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.quantity import (
    parse_count,
    parse_cpu,
    parse_memory,
    parse_quantity,
    to_epoch,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.spec import (
    DEFAULT_PROGRAM_CACHE,
    CompiledPlacement,
    Predicate,
    SpreadConstraint,
    Toleration,
    compile_placement,
    placement_key,
)

__all__ = [
    "ADVANCED_GATE",
    "ClusterView",
    "CompiledPlacement",
    "DEFAULT_PRIORITIZERS",
    "DEFAULT_PROGRAM_CACHE",
    "DIVIDED",
    "DUPLICATED",
    "DYNAMIC_AVAILABLE_CAPACITY",
    "NAMESPACE_NAME_LABEL",
    "NO_EXECUTE",
    "NO_RESOURCES",
    "NO_SCHEDULE",
    "PLAIN_ADMISSION",
    "PRIORITIZERS",
    "PlacementIndex",
    "PlacementResult",
    "Predicate",
    "Requirement",
    "Resources",
    "SELECTOR_OPERATORS",
    "Selector",
    "Snapshot",
    "SpreadConstraint",
    "TAINT_EFFECTS",
    "TOPOLOGY_LOCATION",
    "Taint",
    "Toleration",
    "UNSCHEDULABLE_TAINT",
    "cel",
    "cluster_view",
    "cluster_views",
    "compile_placement",
    "decide",
    "decision_inputs_changed",
    "divide_replicas",
    "parse_count",
    "parse_cpu",
    "parse_memory",
    "parse_quantity",
    "parse_selector",
    "parse_taint",
    "placement_key",
    "previous_clusters",
    "to_epoch",
]
