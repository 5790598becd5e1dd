# Evaluates nixos-module/ with nixpkgs' lib.evalModules, the NixOS option stand-ins and the pkgs stand-in.
# Run by module.test.ts; every argument is a string (--argstr), the host's configuration as JSON.
{
  nixpkgsLib,
  repo,
  node,
  tsxLoader,
  nonce ? "",
  hostConfig ? "{}",
}:

let
  lib = import nixpkgsLib;
  pkgs = import ./pkgs-stand-in.nix {
    inherit
      lib
      repo
      node
      tsxLoader
      nonce
      ;
  };

  evalHost =
    modules:
    (lib.evalModules {
      modules = [
        { _module.args.pkgs = pkgs; }
        ./nixos-option-stubs.nix
        (builtins.fromJSON hostConfig)
      ]
      ++ modules;
    }).config;

  summary = config: {
    failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
    inherit (config) warnings;
    services = config.systemd.services;
    nixSettings = config.nix.settings;
    firewallTCPPorts = config.networking.firewall.allowedTCPPorts;
    etc = lib.mapAttrs (_: entry: entry.source) config.environment.etc;
    systemPackages = config.environment.systemPackages;
    standIns = {
      nix = pkgs.nix;
      systemd = pkgs.systemd;
      tsdeploy = pkgs.tsdeploy;
    };
  };

  host = evalHost [ ../../nixos-module ];

  flake = import ../../flake.nix;
  flakeOutputs = flake.outputs {
    self = flakeOutputs;
    nixpkgs = {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (_: pkgs);
    };
  };

  packageArgs = (pkgs.callPackage ../../nixos-module/package.nix { }).buildNpmPackageArgs;
in
{
  # The host evaluated with `imports = [ "${tsdeploy}/nixos-module" ]`.
  host = summary host;

  # For nix-build -A: the checked configs, built by the modules' own runCommand.
  agentConfig = host.environment.etc."tsdeploy/agent.json".source;
  controllerConfig = host.environment.etc."tsdeploy/controller.json".source;

  # The controller's generated JSON before its check: the runCommand's `configFile` is the formats.json
  # stand-in's derivation, which carries the JSON text it writes.
  controllerConfigUnchecked =
    builtins.fromJSON
      host.environment.etc."tsdeploy/controller.json".source.configFile.value;

  # The host evaluated with the flake's nixosModules.agent alone.
  agentModuleAlone = summary (evalHost [ flakeOutputs.nixosModules.agent ]);

  flake = {
    outputs = lib.attrNames flakeOutputs;
    packages = lib.mapAttrs (_: lib.attrNames) flakeOutputs.packages;
    nixosModules = lib.mapAttrs (_: toString) flakeOutputs.nixosModules;
    overlayPackage = (flakeOutputs.overlays.default pkgs pkgs).tsdeploy.name;
    inputs = flake.inputs;
  };

  package = {
    inherit (packageArgs)
      pname
      version
      npmRebuildFlags
      meta
      npmConfigHook
      ;
    src = packageArgs.src.outPath;
    npmRoot = packageArgs.npmDeps.importNpmLockArgs.npmRoot.outPath;
    lockPackages = packageArgs.npmDeps.importNpmLockArgs.packageLock.packages;
    installCheckPhase = packageArgs.installCheckPhase;
  };
}
