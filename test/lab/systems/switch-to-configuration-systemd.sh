#!/bin/sh
# switch-to-configuration of lab system "@label@" (@variant@) for a lab host whose PID 1 is systemd.
# Like NixOS's: switch = boot + test; boot = make it the boot default; test = make it current, link its
# units, daemon-reload, stop removed units, restart changed ones, start new ones (a unit marked
# X-RestartIfChanged=false is left running, one marked X-StopOnRemoval=false is not stopped);
# dry-activate = say what would change. Exits 4 when a unit failed, as NixOS's does.
PATH=/usr/bin:/bin:/usr/sbin:/sbin
export PATH
new=@out@
variant=@variant@
iface=@iface@
bootEntry=/nix/var/lab/boot-default

action=${1:-}
case "$action" in
  switch | boot | test | dry-activate) ;;
  *)
    echo "Usage: $0 [switch|boot|test|dry-activate]" >&2
    exit 1
    ;;
esac

old=$(readlink -f /run/current-system 2>/dev/null || true)

units_of() {
  [ -n "$1" ] && [ -d "$1/etc/systemd/system" ] || return 0
  for f in "$1"/etc/systemd/system/*.service; do [ -e "$f" ] && basename "$f"; done
}
has_unit() { [ -n "$1" ] && [ -e "$1/etc/systemd/system/$2" ]; }
wanted() { [ -e "$1/etc/systemd/system/multi-user.target.wants/$2" ]; }
same_unit() { [ "$(readlink -f "$old/etc/systemd/system/$1")" = "$(readlink -f "$new/etc/systemd/system/$1")" ]; }
# The last value of KEY in a unit file, as systemd reads it.
setting() { sed -n "s/^$3=//p" "$1/etc/systemd/system/$2" | tail -n 1; }

to_stop=''
to_restart=''
to_start=''
kept=''
for unit in $(units_of "$old"); do
  has_unit "$new" "$unit" && continue
  if [ "$(setting "$old" "$unit" X-StopOnRemoval)" = false ]; then kept="$kept $unit"; else to_stop="$to_stop $unit"; fi
done
for unit in $(units_of "$new"); do
  if has_unit "$old" "$unit"; then
    same_unit "$unit" && continue
    if [ "$(setting "$new" "$unit" X-RestartIfChanged)" = false ]; then kept="$kept $unit"; else to_restart="$to_restart $unit"; fi
  elif wanted "$new" "$unit"; then
    to_start="$to_start $unit"
  fi
done

record_boot() {
  mkdir -p "$(dirname "$bootEntry")"
  ln -sfn "$new" "$bootEntry.tmp"
  mv -T "$bootEntry.tmp" "$bootEntry"
  echo "boot entry set to $new"
}

if [ "$action" = dry-activate ]; then
  echo "would activate $new (current: ${old:-none})"
  echo "would stop the following units:$to_stop"
  echo "would restart the following units:$to_restart"
  echo "would start the following units:$to_start"
  echo "would not restart or stop the following units:$kept"
  exit 0
fi
if [ "$action" = boot ]; then
  record_boot
  exit 0
fi

[ "$action" = switch ] && record_boot
echo "activating the configuration $new"
# Changed units are stopped with their old definition and started with the new one, as NixOS does.
if [ -n "$to_stop$to_restart" ]; then
  echo "stopping the following units:$to_stop$to_restart"
  # shellcheck disable=SC2086
  systemctl stop $to_stop $to_restart
fi
ln -sfn "$new" /run/current-system.tmp
mv -T /run/current-system.tmp /run/current-system
mkdir -p /run/systemd
# Booted with no system, systemd made /run/systemd/system an (empty) directory: the system's link replaces it.
[ -L /run/systemd/system ] || rm -rf /run/systemd/system
ln -sfn "$new/etc/systemd/system" /run/systemd/system.tmp
mv -T /run/systemd/system.tmp /run/systemd/system
systemctl daemon-reload
[ -n "$kept" ] && echo "NOT restarting the following changed units:$kept"
if [ @activationDelay@ -gt 0 ]; then
  echo "pausing @activationDelay@s half-way through the activation"
  sleep @activationDelay@
fi

if [ "$variant" = network-breaking ]; then
  echo "setting $iface down"
  ip link set "$iface" down
else
  ip link set "$iface" up
fi

failed=0
# shellcheck disable=SC2086
if [ -n "$to_restart$to_start" ]; then
  echo "starting the following units:$to_restart$to_start"
  systemctl start $to_restart $to_start || failed=1
fi
if [ "$failed" != 0 ]; then
  echo "warning: the following units failed: $(systemctl list-units --state=failed --plain --no-legend --no-pager | cut -d' ' -f1 | tr '\n' ' ')" >&2
  exit 4
fi
echo "activated @label@"
