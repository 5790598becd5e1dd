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

  # DynamicUser units may only own state under /var/lib: StateDirectory is derived from settings.stateDir.
  stateDirName = lib.removePrefix "/var/lib/" cfg.settings.stateDir;

  configFile = json.generate "tsdeploy-controller.json" cfg.settings;

  # The controller's own check-config runs at build time, so a configuration it would refuse never deploys.
  checkedConfigFile = pkgs.runCommand "tsdeploy-controller-checked.json" { inherit configFile; } ''
    ${lib.getExe' cfg.package "tsdeploy-controller"} check-config "$configFile"
    cp "$configFile" "$out"
  '';

  distinctKeys = lib.length (lib.unique cfg.settings.trustedReleaseKeys);

  # Where systemd puts the read token: readable by this unit only, never in the store.
  readTokenCredential = "/run/credentials/tsdeploy-controller.service/read-token";

  renamed =
    name: lib.mkRenamedOptionModule [ "services" "tsdeploy-controller" name ] [ "services" "tsdeploy-controller" "settings" name ];

  settingsType = types.submodule {
    freeformType = json.type;
    options = {
      listen = mkOption {
        type = types.str;
        readOnly = true;
        description = "`HOST:PORT`, from `listen.address` and `listen.port` (read-only, so the firewall and the server agree).";
      };
      stateDir = mkOption {
        type = types.str;
        default = "/var/lib/tsdeploy-controller";
        description = ''
          Where manifests, enrolled agent keys, tokens and reports are kept: a directory under /var/lib.
          The unit's `StateDirectory` is derived from it, so the two cannot drift apart.
        '';
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
    };
  };
in
{
  imports = map renamed [
    "stateDir"
    "trustedReleaseKeys"
    "releaseThreshold"
  ];

  options.services.tsdeploy-controller = {
    enable = lib.mkEnableOption "tsdeploy-controller, which serves signed manifests to tsdeploy agents and collects their health reports";

    package = lib.mkPackageOption pkgs "tsdeploy" { } // {
      default = pkgs.tsdeploy or (pkgs.callPackage ./package.nix { });
      # The flake's nixosModules set tsdeploy.packages.<system>.default instead (with lib.mkDefault).
      defaultText = lib.literalExpression ''pkgs.tsdeploy or (pkgs.callPackage "''${tsdeploy}/nixos-module/package.nix" { })'';
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

    readTokenFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/var/lib/tsdeploy-controller-read-token";
      description = ''
        A file outside the Nix store holding the read token (16 to 256 characters) that the dashboard,
        `/metrics`, `/v1/status` and `/v1/rollouts/current` then require (`Authorization: Bearer …`).
        It reaches the controller as a systemd credential (`LoadCredential`), so its contents never enter
        the store, unlike `settings.readToken`. The unit does not start while the file is missing.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to open `listen.port` in the firewall.";
    };

    settings = mkOption {
      type = settingsType;
      default = { };
      example = lib.literalExpression ''
        {
          trustedReleaseKeys = [ "release-1:…" ];
          heartbeatSeconds = 30;
          reports.maxLogBytes = 4194304;
          logLevel = "debug";
        }
      '';
      description = ''
        The controller's JSON config (see the README), written to `/etc/tsdeploy/controller.json` and
        checked with `tsdeploy-controller check-config` when the system is built. The common fields are
        typed options; any other field (`heartbeatSeconds`, `silentAfterHeartbeats`, `maxWaitSeconds`,
        `rolloutTickSeconds`, `reports`, `cacheDir`, `logLevel`) may be set too. Set the read token with
        `readTokenFile`, not `settings.readToken`: this file is in the store.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    services.tsdeploy-controller.settings = {
      inherit listen;
      readTokenFile = lib.mkIf (cfg.readTokenFile != null) readTokenCredential;
    };

    warnings = lib.optional (cfg.settings ? readToken) "services.tsdeploy-controller.settings.readToken is written to the Nix store, which every local user can read: set services.tsdeploy-controller.readTokenFile instead.";

    assertions = [
      {
        assertion = cfg.settings.trustedReleaseKeys != [ ];
        message = "services.tsdeploy-controller.settings.trustedReleaseKeys is empty: list the release public keys whose signatures make a manifest publishable.";
      }
      {
        assertion = cfg.settings.trustedReleaseKeys == [ ] || cfg.settings.releaseThreshold <= distinctKeys;
        message = "services.tsdeploy-controller.settings.releaseThreshold is ${toString cfg.settings.releaseThreshold}, but trustedReleaseKeys has only ${toString distinctKeys} distinct keys.";
      }
      {
        assertion =
          lib.hasPrefix "/var/lib/" cfg.settings.stateDir && stateDirName != "" && !lib.hasInfix ".." cfg.settings.stateDir;
        message = "services.tsdeploy-controller.settings.stateDir must be a directory under /var/lib (the unit uses DynamicUser and StateDirectory).";
      }
      {
        assertion =
          cfg.readTokenFile == null
          || (lib.hasPrefix "/" cfg.readTokenFile && !lib.hasPrefix "${builtins.storeDir}/" cfg.readTokenFile);
        message = "services.tsdeploy-controller.readTokenFile must be an absolute path outside the Nix store (a secret in the store is readable by every user).";
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
        ExecStart = "${lib.getExe' cfg.package "tsdeploy-controller"} serve --config ${checkedConfigFile}";
        Restart = "on-failure";
        RestartSec = 5;
        DynamicUser = true;
        StateDirectory = stateDirName;
        StateDirectoryMode = "0700";

        # Hardened as nixpkgs' atticd is, except MemoryDenyWriteExecute, which V8's JIT cannot live with.
        CapabilityBoundingSet = [ "" ];
        DeviceAllow = "";
        DevicePolicy = "closed";
        LockPersonality = true;
        NoNewPrivileges = true;
        PrivateDevices = true;
        PrivateTmp = true;
        PrivateUsers = true;
        ProcSubset = "pid";
        ProtectClock = true;
        ProtectControlGroups = true;
        ProtectHome = true;
        ProtectHostname = true;
        ProtectKernelLogs = true;
        ProtectKernelModules = true;
        ProtectKernelTunables = true;
        ProtectProc = "invisible";
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
        # The server never changes owners, users, limits or priorities (only the admin commands, run
        # as root outside this unit, chown files).
        SystemCallFilter = [
          "@system-service"
          "~@privileged"
          "~@resources"
        ];
        UMask = "0077";
      }
      // lib.optionalAttrs (cfg.readTokenFile != null) {
        LoadCredential = [ "read-token:${cfg.readTokenFile}" ];
      };
    };
  };

  meta = {
    maintainers = [ ];
    doc = ./tsdeploy.md;
  };
}
