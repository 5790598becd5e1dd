# A NixOS-shaped lab system for the lab's systemd hosts: its units live in etc/systemd/system, as on NixOS,
# and its switch-to-configuration drives the host's real systemd. Built from /bin/sh derivations, no nixpkgs.
{
  variant ? "good",           # good | broken | unhealthy | network-breaking | new-kernel | agent-unit-change | large | no-service
  label,                      # makes every build a distinct store path; shown by nixos-version and /health
  kernelVersion ? "6.1.0-lab",# "new-kernel" systems get another one: a reboot is what starts it
  node ? "/usr/bin/node",     # the machine's node, bind-mounted into every systemd host at the same path
  port ? "9100",              # where the service listens inside the host
  iface ? "eth0",             # the host's link to the lab network
  signer ? "cache",           # part of the name so a system signed by another key is a distinct path
  agentUnit ? "",             # the tsdeploy-agent unit text (the NixOS rendering, adapted by the lab); "" = none
  activationDelay ? "0",      # seconds switch-to-configuration spends between stopping and starting units
  sizeMiB ? "0",              # size of the random blob in the closure of a "large" system
}:
let
  PATH = "/usr/bin:/bin:/usr/sbin:/sbin";
  sh = name: script: extra: derivation ({
    inherit name PATH;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
  } // extra);
  text = name: contents: sh name ''printf '%s' "$contents" > $out'' { inherit contents; };

  kernel = sh "linux-${kernelVersion}" ''
    set -e
    mkdir -p $out/lib/modules/${kernelVersion}
    printf 'lab kernel %s\n' "${kernelVersion}" > $out/bzImage
    printf 'lab initrd %s\n' "${kernelVersion}" > $out/initrd
    printf 'lab modules %s\n' "${kernelVersion}" > $out/lib/modules/${kernelVersion}/modules.dep
  '' { };

  status = if variant == "unhealthy" then "500" else "200";
  serviceText = builtins.replaceStrings [ "@status@" "@label@" "@port@" ] [ status label port ]
    (builtins.readFile ./lab-service.mjs);
  service = sh "lab-service-${label}" ''
    set -e
    mkdir -p $out/bin $out/lib
    printf '%s' "$serviceText" > $out/lib/lab-service.mjs
    printf '#!/bin/sh\n# Readiness, as sd_notify would give it: the service writes this file once it listens.\ni=0\nwhile [ ! -f /run/lab/service.ready ]; do i=$((i + 1)); [ "$i" -gt 600 ] && exit 1; sleep 0.05; done\n' > $out/bin/wait-ready
    chmod +x $out/bin/wait-ready
  '' { inherit serviceText; };

  serviceUnit = text "unit-lab-service.service" (if variant == "broken" then ''
    [Unit]
    Description=lab service of system ${label} (broken on purpose: it fails to start)

    [Service]
    Type=oneshot
    RemainAfterExit=yes
    ExecStart=/bin/sh -c "echo 'lab-service of ${label} is broken on purpose' >&2; exit 1"
  '' else ''
    [Unit]
    Description=lab service of system ${label}

    [Service]
    Type=exec
    ExecStart=${node} ${service}/lib/lab-service.mjs
    ExecStartPost=${service}/bin/wait-ready
    RuntimeDirectory=lab
    Restart=always
    RestartSec=100ms
  '');

  # The agent-unit-change variant alters one setting of the agent's unit, as a module change would.
  agentText = if variant == "agent-unit-change"
    then builtins.replaceStrings [ "\n[Service]\n" ] [ "\n[Service]\nEnvironment=\"TSDEPLOY_LAB_UNIT_REVISION=${label}\"\n" ] agentUnit
    else agentUnit;
  agent = text "unit-tsdeploy-agent.service" agentText;

  blob = sh "lab-blob-${label}" ''
    set -e
    mkdir -p $out
    head -c $((${sizeMiB} * 1048576)) /dev/urandom > $out/blob
  '' { };

  stcText = builtins.replaceStrings
    [ "@out@" "@variant@" "@label@" "@iface@" "@activationDelay@" ]
    [ (builtins.placeholder "out") variant label iface activationDelay ]
    (builtins.readFile ./switch-to-configuration-systemd.sh);
in
sh "nixos-system-${variant}-${label}${if signer == "cache" then "" else "-${signer}"}" ''
  set -e
  units=$out/etc/systemd/system
  mkdir -p $out/bin $units/multi-user.target.wants
  printf '%s' "$stcText" > $out/bin/switch-to-configuration
  chmod +x $out/bin/switch-to-configuration
  printf '%s\n' "${label}" > $out/nixos-version
  printf '%s\n' "${variant}" > $out/lab-variant
  printf '%s\n' "${builtins.currentSystem}" > $out/system
  ln -s ${kernel}/bzImage $out/kernel
  ln -s ${kernel}/initrd $out/initrd
  ln -s ${kernel}/lib/modules $out/kernel-modules
  ln -s ${service} $out/sw
  ${if variant == "large" then "ln -s ${blob} $out/blob" else ""}
  ${if variant == "no-service" then "" else ''
    ln -s ${serviceUnit} $units/lab-service.service
    ln -s ../lab-service.service $units/multi-user.target.wants/lab-service.service
  ''}
  ${if agentUnit == "" then "" else ''
    ln -s ${agent} $units/tsdeploy-agent.service
    ln -s ../tsdeploy-agent.service $units/multi-user.target.wants/tsdeploy-agent.service
  ''}
'' { inherit stcText; }
