#!/bin/bash
# Prepares a fresh Debian 12 host: installs the packages of
# contrib/debian-packages.txt and builds kukeon. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi
mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^\s*$/d' contrib/debian-packages.txt)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
make -j"$(nproc)"
