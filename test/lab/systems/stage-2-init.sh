#!/bin/sh
# PID 1 of a lab systemd host, as NixOS's stage 2 is: the boot-default generation becomes /run/booted-system
# and /run/current-system, its units become /run/systemd/system, then systemd takes over as PID 1.
PATH=/usr/bin:/bin:/usr/sbin:/sbin
export PATH
entry=/nix/var/lab/boot-default
if [ -e "$entry" ]; then
  system=$(readlink -f "$entry")
  ln -sfn "$system" /run/booted-system
  ln -sfn "$system" /run/current-system
  mkdir -p /run/systemd
  [ -d "$system/etc/systemd/system" ] && ln -sfn "$system/etc/systemd/system" /run/systemd/system
  echo "lab stage 2: booting $system"
fi
exec /lib/systemd/systemd "$@"
