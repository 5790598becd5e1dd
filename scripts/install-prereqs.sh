#!/usr/bin/env bash
# Installs and configures what the fleet lab needs on Debian or Ubuntu, as root:
# Nix (Debian's nix-bin, single-user, no sandbox, no outside substituters), iproute2, and for the
# lab's systemd hosts systemd-nspawn (systemd-container) and debootstrap; Chromium for the dashboard test.
# Safe to run again: it changes nothing that is already right.
set -euo pipefail

missing=()
command -v nix-build >/dev/null 2>&1 || missing+=(nix-bin)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v pgrep >/dev/null 2>&1 || missing+=(procps)
command -v systemd-nspawn >/dev/null 2>&1 || missing+=(systemd-container)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
# The dashboard test drives Debian's Chromium headless (playwright-core never downloads a browser).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tsdeploy: missing ${missing[*]}: install them as root (apt-get install ${missing[*]}), then run again" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (a concurrent install) holds the lock for a while: wait for it instead of failing.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" </dev/null >/dev/null
fi

conf=/etc/nix/nix.conf
mkdir -p /etc/nix
touch "$conf"
set_option() {
  local key=$1 value=$2
  if grep -Eq "^[[:space:]]*${key}[[:space:]]*=" "$conf"; then
    sed -i -E "s|^[[:space:]]*${key}[[:space:]]*=.*|${key} = ${value}|" "$conf"
  else
    printf '%s = %s\n' "$key" "$value" >>"$conf"
  fi
}
# No sandbox (it does not work with Debian's single-user Nix), and no outside cache:
# nothing outside this machine is reachable, and the lab brings its own signed cache.
set_option sandbox false
set_option substituters ''
