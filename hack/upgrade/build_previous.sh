#!/usr/bin/env bash
# Build the collection as it was at a commit of this repository and install it into a cache directory
# outside the repository, keyed by the full commit hash. A second run finds it and builds nothing.
#
#   hack/upgrade/build_previous.sh [COMMIT]        COMMIT defaults to the one in hack/upgrade/previous.txt
#
# Prints the collections directory (it holds ansible_collections/tmc/multicluster) on its last line.
# Environment: TMC_UPGRADE_CACHE (default ~/.cache/tmc-multicluster/upgrade), ANSIBLE_GALAXY (default: the
# ansible-galaxy next to python3 in PATH).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ref="${1:-$(grep -v '^#' "$here/previous.txt" | head -n1 | tr -d '[:space:]')}"
commit="$(git -C "$repo" rev-parse --verify "${ref}^{commit}")"
cache="${TMC_UPGRADE_CACHE:-$HOME/.cache/tmc-multicluster/upgrade}"
dest="$cache/$commit"
galaxy="${ANSIBLE_GALAXY:-ansible-galaxy}"

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9   # two runs at once: the second waits and then finds the build

if [[ -f "$dest/.built" ]]; then
  echo "cached: $dest" >&2
  echo "$dest/collections"
  exit 0
fi

work="$(mktemp -d "$cache/.build-${commit:0:12}-XXXXXX")"
trap 'rm -rf "$work"' EXIT
git -C "$repo" archive --format=tar "$commit" | tar -x -C "$work" --one-top-level=src
"$galaxy" collection build "$work/src" --output-path "$work/dist" >&2
# --force and a collections path of its own: else ansible-galaxy sees the checkout's tmc.multicluster (same
# version) on ANSIBLE_COLLECTIONS_PATH and installs nothing.
ANSIBLE_COLLECTIONS_PATH="$work/collections" \
  "$galaxy" collection install --no-deps --offline --force -p "$work/collections" "$work"/dist/*.tar.gz >&2
test -f "$work/collections/ansible_collections/tmc/multicluster/plugins/module_utils/daemons/__main__.py"
printf '%s\n' "$commit" > "$work/collections/ansible_collections/tmc/multicluster/.tmc-build-commit"
rm -rf "$dest"
mkdir -p "$dest"
mv "$work/collections" "$dest/collections"
printf 'commit=%s\nbuilt=%s\n' "$commit" "$(date -u +%FT%TZ)" > "$dest/.built"
echo "built: $dest" >&2
echo "$dest/collections"
