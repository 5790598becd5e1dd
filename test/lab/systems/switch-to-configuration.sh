#!/bin/sh
# switch-to-configuration of lab system "@label@" (@variant@): NixOS's interface, without systemd as PID 1.
# switch = boot + test; test = make it current and (re)start its service; boot = only record it;
# dry-activate = say what would change and change nothing. Exits non-zero on failure, like the real one.
PATH=/usr/bin:/bin:/usr/sbin:/sbin
export PATH
toplevel=@out@
variant=@variant@
iface=@iface@
state=/run/lab
bootEntry=/nix/var/lab/boot-default

action=${1:-}
case "$action" in
  switch | boot | test | dry-activate) ;;
  *)
    echo "Usage: $0 [switch|boot|test|dry-activate]" >&2
    exit 1
    ;;
esac

# True while $1 is a running (not zombie) process.
pid_running() {
  [ -r "/proc/$1/stat" ] || return 1
  s=$(sed 's/^.*) //' "/proc/$1/stat" | cut -c1)
  [ "$s" != Z ]
}

# True while $1 is a running lab service (the command line guards against a reused pid).
service_alive() {
  pid_running "$1" || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'lab-service.mjs'
}

stop_service() {
  [ -f "$state/service.pid" ] || return 0
  pid=$(cat "$state/service.pid")
  if service_alive "$pid"; then
    echo "stopping lab-service.service"
    kill "$pid" 2>/dev/null || true
    i=0
    while service_alive "$pid"; do
      i=$((i + 1))
      [ "$i" -eq 100 ] && kill -9 "$pid" 2>/dev/null
      sleep 0.05
    done
  fi
  rm -f "$state/service.pid" "$state/service.ready"
}

start_service() {
  echo "starting lab-service.service"
  rm -f "$state/service.ready"
  setsid @service@/bin/lab-service </dev/null >>"$state/service.log" 2>&1 &
  echo $! >"$state/service.pid"
  i=0
  while [ ! -f "$state/service.ready" ]; do
    i=$((i + 1))
    # Until it has exec'd node its command line is still setsid's or the wrapper's: check it only runs.
    if [ "$i" -gt 400 ] || ! pid_running "$(cat "$state/service.pid")"; then
      echo "lab-service.service failed to start (see $state/service.log)" >&2
      return 1
    fi
    sleep 0.05
  done
}

record_boot() {
  mkdir -p "$(dirname "$bootEntry")"
  ln -sfn "$toplevel" "$bootEntry.tmp"
  mv -T "$bootEntry.tmp" "$bootEntry"
  echo "boot entry set to $toplevel"
}

if [ "$action" = dry-activate ]; then
  echo "would activate $toplevel (current: $(readlink /run/current-system || echo none))"
  echo "would restart the following units: lab-service.service"
  if [ "$variant" = network-breaking ]; then
    echo "would take $iface down"
  else
    echo "would bring $iface up"
  fi
  exit 0
fi

if [ "$action" = boot ]; then
  record_boot
  exit 0
fi

set -e
mkdir -p "$state"
[ "$action" = switch ] && record_boot
echo "activating the configuration $toplevel"
ln -sfn "$toplevel" /run/current-system.tmp
mv -T /run/current-system.tmp /run/current-system
stop_service
# A slow activation (a lab option), so crash tests can interrupt one mid-way.
sleep @activationDelay@

case "$variant" in
  broken)
    echo "lab-service.service failed: this lab system is broken on purpose" >&2
    exit 1
    ;;
  network-breaking)
    start_service
    echo "setting $iface down"
    ip link set "$iface" down
    ;;
  *)
    ip link set "$iface" up
    start_service
    ;;
esac
echo "activated @label@"
