#!/usr/bin/env bash
# Install the Debian 12 packages gracefs needs to build, test and benchmark,
# only those that are missing.  Idempotent; needs root (it is a no-op when
# everything is already there).
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc libc6-dev python3
      libfuse3-dev fuse3 liblmdb-dev lmdb-utils libsqlite3-dev sqlite3 libcmocka-dev
      attr acl util-linux bindfs faketime xfsprogs
      rsync             # tests/mount: rsync --inplace is an in-place overwrite
      prometheus        # promtool: scripts/prometheus/gracefs.rules.yml tests
      python3-yaml      # scripts/prometheus/check.sh reads the rule files
      ansible-core)   # tests/mount/fleet.sh runs scripts/ansible/*.yml
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: error: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
