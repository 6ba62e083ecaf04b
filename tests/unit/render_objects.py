"""Objects the render tests share: a hub Deployment, Service and Job with every server-set field."""

from __future__ import annotations

from ansible_collections.tmc.multicluster.plugins.module_utils import render

UID = "6f1f6f0e-5a7e-4f47-9d0a-3c1b2a8e9d01"


def hub_meta(name="web", namespace="team", **extra):
    meta = {
        "name": name,
        "namespace": namespace,
        "uid": UID,
        "resourceVersion": "4711",
        "generation": 3,
        "creationTimestamp": "2025-01-01T00:00:00Z",
        "selfLink": f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
        "deletionTimestamp": "2025-01-02T00:00:00Z",
        "deletionGracePeriodSeconds": 30,
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "x"}],
        "finalizers": ["example.com/keep"],
        "labels": {"app": name},
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}',
            "deployment.kubernetes.io/revision": "2",
            "team.example.com/owner": "alice",
        },
    }
    meta.update(extra)
    return meta


def deployment(**spec):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": hub_meta(),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {
                    "initContainers": [{"name": "init", "image": "busybox"}],
                    "containers": [
                        {"name": "web", "image": "nginx:1.25"},
                        {"name": "sidecar", "image": "quay.io/prometheus/node-exporter:v1.8.0"},
                    ],
                },
            },
            **spec,
        },
        "status": {"replicas": 3, "availableReplicas": 3, "observedGeneration": 3},
    }


def service(**spec):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": hub_meta(),
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.15",
            "clusterIPs": ["10.96.0.15"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            **spec,
        },
        "status": {"loadBalancer": {}},
    }


def job(**spec):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": hub_meta(name="migrate"),
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}},
            "template": {
                "metadata": {
                    "labels": {
                        "app": "migrate",
                        "controller-uid": UID,
                        "batch.kubernetes.io/controller-uid": UID,
                        "job-name": "migrate",
                        "batch.kubernetes.io/job-name": "migrate",
                    }
                },
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "migrate:1"}]},
            },
            **spec,
        },
    }


def render_one(source, **kwargs):
    return render.render_manifest(source, "east", **kwargs)
