# services.tsdeploy-controller: serves signed manifests to agents and collects their signed health reports.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib) mkOption types;

  cfg = config.services.tsdeploy-controller;
  json = pkgs.formats.json { };

  # "[::]:8080" for IPv6 addresses, "0.0.0.0:8080" otherwise: the form the controller parses.
  listen =
    if lib.hasInfix ":" cfg.listen.address then
      "[${cfg.listen.address}]:${toString cfg.listen.port}"
    else
      "${cfg.listen.address}:${toString cfg.listen.port}";

  # DynamicUser units may only own state under /var/lib (systemd's StateDirectory).
  stateDirName = lib.removePrefix "/var/lib/" cfg.stateDir;

  controllerConfig = lib.recursiveUpdate {
    inherit listen;
    inherit (cfg) stateDir trustedReleaseKeys releaseThreshold;
  } cfg.settings;

  configFile = json.generate "tsdeploy-controller.json" controllerConfig;

  # The controller's own check-config runs at build time, so a configuration it would refuse never deploys.
  checkedConfigFile = pkgs.runCommand "tsdeploy-controller-checked.json" { inherit configFile; } ''
    ${cfg.package}/bin/tsdeploy-controller check-config "$configFile"
    cp "$configFile" "$out"
  '';

  distinctKeys = lib.length (lib.unique cfg.trustedReleaseKeys);
in
{
  options.services.tsdeploy-controller = {
    enable = lib.mkEnableOption "tsdeploy-controller, which serves signed manifests to tsdeploy agents and collects their health reports";

    package = mkOption {
      type = types.package;
      default = pkgs.tsdeploy or (pkgs.callPackage ./package.nix { });
      defaultText = lib.literalExpression ''pkgs.tsdeploy or (pkgs.callPackage "''${tsdeploy}/nixos-module/package.nix" { })'';
      description = "The tsdeploy package to use (`pkgs.tsdeploy` when the flake's overlay is applied).";
    };

    listen = {
      address = mkOption {
        type = types.str;
        default = "127.0.0.1";
        example = "::";
        description = "The address to listen on; the default suits a reverse proxy that terminates TLS on this host.";
      };
      port = mkOption {
        type = types.port;
        default = 8080;
        description = "The TCP port to listen on (1024 or above: the unit holds no capabilities).";
      };
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to open `listen.port` in the firewall.";
    };

    trustedReleaseKeys = mkOption {
      type = types.listOf types.str;
      example = [ "release-1:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=" ];
      description = ''
        Release public keys (Nix's `name:base64` format) whose signatures make a manifest publishable.
        The controller never holds their secret halves.
      '';
    };

    releaseThreshold = mkOption {
      type = types.ints.positive;
      default = 1;
      description = "How many distinct keys of `trustedReleaseKeys` must have signed a manifest for it to be published.";
    };

    stateDir = mkOption {
      type = types.str;
      default = "/var/lib/tsdeploy-controller";
      description = "Where manifests, enrolled agent keys and reports are kept; a directory under /var/lib.";
    };

    settings = mkOption {
      type = json.type;
      default = { };
      example = {
        heartbeatSeconds = 30;
        reports.maxLogBytes = 4194304;
        logLevel = "debug";
      };
      description = ''
        Anything else of the controller's JSON config (see the README), merged over the options above.
        The result is checked with `tsdeploy-controller check-config` when the system is built.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.trustedReleaseKeys != [ ];
        message = "services.tsdeploy-controller.trustedReleaseKeys is empty: list the release public keys whose signatures make a manifest publishable.";
      }
      {
        assertion = cfg.trustedReleaseKeys == [ ] || cfg.releaseThreshold <= distinctKeys;
        message = "services.tsdeploy-controller.releaseThreshold is ${toString cfg.releaseThreshold}, but trustedReleaseKeys has only ${toString distinctKeys} distinct keys.";
      }
      {
        assertion = lib.hasPrefix "/var/lib/" cfg.stateDir && stateDirName != "" && !lib.hasInfix ".." cfg.stateDir;
        message = "services.tsdeploy-controller.stateDir must be a directory under /var/lib (the unit uses DynamicUser and StateDirectory).";
      }
      {
        assertion = cfg.listen.port >= 1024;
        message = "services.tsdeploy-controller.listen.port must be 1024 or above: the unit holds no capabilities. Put a reverse proxy on ports 80 and 443.";
      }
    ];

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ cfg.listen.port ];

    # A stable path for operator commands run on this host.
    environment.etc."tsdeploy/controller.json".source = checkedConfigFile;

    environment.systemPackages = [ cfg.package ];

    systemd.services.tsdeploy-controller = {
      description = "tsdeploy controller: serves signed manifests and collects health reports";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];

      serviceConfig = {
        ExecStart = "${cfg.package}/bin/tsdeploy-controller serve --config ${checkedConfigFile}";
        Restart = "on-failure";
        RestartSec = 5;
        DynamicUser = true;
        StateDirectory = stateDirName;
        StateDirectoryMode = "0700";

        # Hardened as nixpkgs' atticd is, except MemoryDenyWriteExecute, which V8's JIT cannot live with.
        CapabilityBoundingSet = [ "" ];
        LockPersonality = true;
        NoNewPrivileges = true;
        PrivateDevices = true;
        PrivateTmp = true;
        ProtectClock = true;
        ProtectControlGroups = true;
        ProtectHome = true;
        ProtectHostname = true;
        ProtectKernelLogs = true;
        ProtectKernelModules = true;
        ProtectKernelTunables = true;
        ProtectSystem = "strict";
        RemoveIPC = true;
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [ "@system-service" ];
        UMask = "0077";
      };
    };
  };
}
