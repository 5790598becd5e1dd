# A NixOS-shaped lab system (toplevel + kernel + service [+ blob]) built from /bin/sh derivations, no nixpkgs.
{
  variant ? "good",           # good | broken | unhealthy | network-breaking | large
  label,                      # makes every build a distinct store path; shown by nixos-version and /health
  sizeMiB ? "0",              # size of the random blob in the closure of a "large" system
  kernelVersion ? "6.1.0-lab",# change it to make a "kernel change" visible in kernel/initrd/kernel-modules
  node ? "/usr/bin/node",     # the machine's node, which stays visible inside lab hosts (outside /nix)
  port ? "9100",              # where the service listens inside the host
  iface ? "eth0",             # the host's link to the lab network
  signer ? "cache",           # part of the name so a system signed by another key is a distinct path
  activationDelay ? "0",      # seconds switch-to-configuration spends between stopping and starting services
}:
let
  # Only the host's own tools (outside /nix) are used: builds and activations need no nixpkgs.
  PATH = "/usr/bin:/bin:/usr/sbin:/sbin";
  sh = name: script: extra: derivation ({
    inherit name PATH;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
  } // extra);

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
    printf '#!/bin/sh\nexec %s %s/lib/lab-service.mjs\n' "${node}" "$out" > $out/bin/lab-service
    chmod +x $out/bin/lab-service
  '' { inherit serviceText; };

  blob = sh "lab-blob-${label}" ''
    set -e
    mkdir -p $out
    head -c $((${sizeMiB} * 1048576)) /dev/urandom > $out/blob
  '' { };

  stcText = builtins.replaceStrings
    [ "@out@" "@variant@" "@label@" "@service@" "@iface@" "@activationDelay@" ]
    [ (builtins.placeholder "out") variant label "${service}" iface activationDelay ]
    (builtins.readFile ./switch-to-configuration.sh);
in
sh "nixos-system-${variant}-${label}${if signer == "cache" then "" else "-${signer}"}" ''
  set -e
  mkdir -p $out/bin
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
'' { inherit stcText; }
