#!/usr/bin/env bash
# Builds prometheus and promtool from the Go module github.com/prometheus/prometheus
# (hack/testbed/go/prometheus pins it) into a cache outside the repository, keyed
# by the version. Separate from build.sh: only the tests and testbeds that want a
# real Prometheus pay for it (a few minutes once). Does nothing when they are there.
# Concurrent callers wait for one build (flock). Prints the binary directory last.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache_root=${TMC_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tmc-testbed}
bin="$cache_root/bin/prometheus-${PROMETHEUS_VERSION}"
binaries=(prometheus promtool)

all_built() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

if all_built; then
  echo "$bin"
  exit 0
fi
mkdir -p "$bin"
exec 9>"$bin/.lock"
flock 9
if all_built; then  # another caller built it while this one waited
  echo "$bin"
  exit 0
fi
tmp=$(mktemp -d "$bin/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
version=${PROMETHEUS_VERSION#v}
# remove_all_sd: no cloud service discovery (the testbed uses file_sd and static
# targets); it cuts the build by half. Version info as Prometheus's own build sets it.
ldflags="-s -w -X github.com/prometheus/common/version.Version=${version}"
ldflags+=" -X github.com/prometheus/common/version.Branch=module -X github.com/prometheus/common/version.Revision=${PROMETHEUS_VERSION}"
echo "testbed build: Prometheus ${PROMETHEUS_VERSION} (prometheus, promtool); the first build takes a few minutes" >&2
cd "$here/go/prometheus"
nice -n 10 go build -tags remove_all_sd -trimpath -ldflags "$ldflags" -o "$tmp/" \
  github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
for f in "$tmp"/*; do [[ -e "$f" ]] && mv -f "$f" "$bin/"; done
all_built || { echo "testbed build: missing prometheus binaries in $bin" >&2; exit 1; }
echo "$bin"
