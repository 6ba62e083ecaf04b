#!/usr/bin/env bash
# Builds the testbed's upstream binaries from Go modules into a cache outside
# the repository, keyed by their versions. Does nothing when they are there.
# Prints the binary directory on its last line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache_root=${TMC_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tmc-testbed}
key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_toxiproxy-${TOXIPROXY_VERSION}"
bin="$cache_root/bin/$key"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok toxiproxy)

all_built() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

if all_built; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
tmp=$(mktemp -d "$bin/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
major_minor=${KUBERNETES_VERSION#v}
k8s_major=${major_minor%%.*}
k8s_minor=$(echo "$major_minor" | cut -d. -f2)
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$k8s_major"
  k8s_ldflags+=" -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

step() { echo "testbed build: $*" >&2; }

cd "$here/go/kube"
if [[ ! -x "$bin/kube-apiserver" || ! -x "$bin/kube-controller-manager" || ! -x "$bin/kube-scheduler" || ! -x "$bin/kubectl" ]]; then
  step "Kubernetes $KUBERNETES_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl); the first build takes a while"
  go build -tags selinux,notest -trimpath -ldflags "$k8s_ldflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
fi
if [[ ! -x "$bin/etcd" ]]; then
  step "etcd $ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
fi
if [[ ! -x "$bin/toxiproxy" ]]; then
  step "toxiproxy $TOXIPROXY_VERSION"
  go build -trimpath -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION#v}" \
    -o "$tmp/toxiproxy" github.com/Shopify/toxiproxy/v2/cmd/server
fi
cd "$here/go/kwok"
if [[ ! -x "$bin/kwok" ]]; then
  step "kwok $KWOK_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
fi
# Move into place only whole binaries, so an interrupted build never leaves a
# half-written file that all_built would accept.
for f in "$tmp"/*; do [[ -e "$f" ]] && mv -f "$f" "$bin/"; done
all_built || { echo "testbed build: missing binaries in $bin" >&2; exit 1; }
echo "$bin"
