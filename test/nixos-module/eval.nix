# Evaluates nixos-module/ with nixpkgs' lib.evalModules, the NixOS option stand-ins and the pkgs stand-in.
# Run by module.test.ts; every argument is a string (--argstr), the host's configuration as JSON (one
# module or a list of modules).
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
  standIn =
    args:
    import ./pkgs-stand-in.nix (
      {
        inherit
          lib
          repo
          node
          tsxLoader
          nonce
          ;
      }
      // args
    );
  pkgs = standIn { };

  evalWith =
    pkgs': modules:
    (lib.evalModules {
      modules = [
        { _module.args.pkgs = pkgs'; }
        ./nixos-option-stubs.nix
      ]
      ++ modules;
    }).config;
  # hostConfig is one module, or a list of modules (to see how definitions of one option merge).
  hostModules = lib.toList (builtins.fromJSON hostConfig);
  evalHost = modules: evalWith pkgs (modules ++ hostModules);

  summary = config: {
    failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
    inherit (config) warnings;
    services = config.systemd.services;
    units = lib.mapAttrs (_: unit: unit.text) config.systemd.units;
    nixSettings = config.nix.settings;
    firewallTCPPorts = config.networking.firewall.allowedTCPPorts;
    etc = lib.mapAttrs (_: entry: entry.source) config.environment.etc;
    systemPackages = config.environment.systemPackages;
    # Only of an enabled service (a disabled one lacks the settings its module sets).
    agentSettings =
      if config.services.tsdeploy-agent.enable or false then config.services.tsdeploy-agent.settings else null;
    controllerSettings =
      if config.services.tsdeploy-controller.enable or false then
        config.services.tsdeploy-controller.settings
      else
        null;
    meta = {
      maintainers = config.meta.maintainers;
      doc = map (def: toString def.value) config.meta.doc;
    };
    standIns = {
      nix = pkgs.nix;
      systemd = pkgs.systemd;
      tsdeploy = pkgs.tsdeploy;
    };
  };

  host = evalHost [ ../../nixos-module ];

  flake = import ../../flake.nix;
  flakeOutputsWith =
    pkgs':
    let
      outputs = flake.outputs {
        self = outputs;
        nixpkgs = {
          inherit lib;
          legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (_: pkgs');
        };
      };
    in
    outputs;
  flakeOutputs = flakeOutputsWith pkgs;

  # A host whose nixpkgs has no tsdeploy (no overlay): the flake's module falls back to its own package.
  pkgsWithoutTsdeploy = removeAttrs pkgs [ "tsdeploy" ];
  flakePackageHost = evalWith pkgsWithoutTsdeploy (
    [ (flakeOutputsWith pkgsWithoutTsdeploy).nixosModules.default ] ++ hostModules
  );

  packageArgs = (pkgs.callPackage ../../nixos-module/package.nix { }).buildNpmPackageArgs;

  # The lab host of rendered/tsdeploy-agent.service, with store paths that are the same on every machine.
  goldenPkgs = standIn {
    system = "x86_64-linux";
    fixedTsdeploy = true;
    nonce = "";
  };
  goldenHost = evalWith goldenPkgs [
    ../../nixos-module
    ./rendered/lab-host.nix
  ];
in
{
  # The host evaluated with `imports = [ "${tsdeploy}/nixos-module" ];`.
  host = summary host;

  # For nix-build -A: the checked configs, built by the modules' own runCommand.
  agentConfig = host.environment.etc."tsdeploy/agent.json".source;
  controllerConfig = host.environment.etc."tsdeploy/controller.json".source;

  # The generated JSON before the build-time check: the runCommand's `configFile` is the formats.json
  # stand-in's derivation, which carries the JSON text it writes.
  agentConfigUnchecked = builtins.fromJSON host.environment.etc."tsdeploy/agent.json".source.configFile.value;
  controllerConfigUnchecked =
    builtins.fromJSON
      host.environment.etc."tsdeploy/controller.json".source.configFile.value;

  # The host evaluated with the flake's nixosModules.agent alone, and with .default and .agent together.
  agentModuleAlone = summary (evalHost [ flakeOutputs.nixosModules.agent ]);
  agentModuleTwice = summary (evalHost [
    flakeOutputs.nixosModules.default
    flakeOutputs.nixosModules.agent
  ]);

  flakePackage = {
    agent = toString flakePackageHost.services.tsdeploy-agent.package;
    controller = toString flakePackageHost.services.tsdeploy-controller.package;
    flake = toString (flakeOutputsWith pkgsWithoutTsdeploy).packages.x86_64-linux.default;
  };

  # The options' documentation: examples must be what the README recommends.
  optionExamples =
    let
      options =
        (lib.evalModules {
          modules = [
            { _module.args.pkgs = pkgs; }
            ./nixos-option-stubs.nix
            ../../nixos-module
          ];
        }).options.services;
    in
    {
      enrollmentTokenFile = options.tsdeploy-agent.enrollmentTokenFile.example;
      packageDescription = options.tsdeploy-agent.package.description;
    };

  # The VM test's structure and its Python script, for test nodes that only carry the store paths it uses.
  vmTest =
    let
      test = import ../../nixos-module/tests/vm.nix { self = flakeOutputs; } { inherit lib; };
      node = name: {
        system.build = {
          tsdeployNext = "/nix/store/00000000000000000000000000000000-${name}-next";
          tsdeployUnhealthy = "/nix/store/00000000000000000000000000000000-${name}-unhealthy";
        };
      };
    in
    {
      inherit (test) name;
      nodes = lib.attrNames test.nodes;
      script = test.testScript {
        nodes = lib.genAttrs [ "controller" "web1" "web2" ] node;
      };
    };

  goldenUnit = goldenHost.systemd.units."tsdeploy-agent.service".text;
  goldenFailedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) goldenHost.assertions);

  flake = {
    outputs = lib.attrNames flakeOutputs;
    packages = lib.mapAttrs (_: lib.attrNames) flakeOutputs.packages;
    nixosModules = lib.attrNames flakeOutputs.nixosModules;
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
      doInstallCheck
      versionCheckProgram
      versionCheckProgramArg
      ;
    nativeInstallCheckInputs = map toString packageArgs.nativeInstallCheckInputs;
    src = packageArgs.src.outPath;
    npmRoot = packageArgs.npmDeps.importNpmLockArgs.npmRoot.outPath;
    lockPackages = packageArgs.npmDeps.importNpmLockArgs.packageLock.packages;
    installCheckPhase = packageArgs.installCheckPhase;
    versionCheckHook = toString pkgs.versionCheckHook;
  };
}
