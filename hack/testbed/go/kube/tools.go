//go:build tools

// Package tools pins the main packages that hack/testbed/build.sh compiles
// from this module: the Kubernetes control plane, kubectl, etcd and toxiproxy.
package tools

import (
	_ "github.com/Shopify/toxiproxy/v2/cmd/server"
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
