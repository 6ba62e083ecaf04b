#!/usr/bin/env bash
# make sanity: `ansible-test sanity` on the collection exactly as it is built
# (ansible-galaxy collection build, then installed into a scratch tree).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ansible-test fetches a pip bootstrap script from a host this machine cannot
# reach; hack/sanity/get_pip.py does the same job from the standard library.
# The pip version is the one ansible-core 2.19's ansible-test pins.
pip_version=24.2
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
cp "$here/get_pip.py" "$cache/get_pip_${pip_version//./_}.py"

ansible-galaxy collection build --force --output-path "$work/build" "$repo" >/dev/null
ansible-galaxy collection install --force -p "$work" "$work"/build/tmc-multicluster-*.tar.gz >/dev/null
cd "$work/ansible_collections/tmc/multicluster"
ansible-test sanity --python "$(python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" \
  --local --color no "$@"
