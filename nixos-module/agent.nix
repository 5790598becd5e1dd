# services.tsdeploy-agent: pulls this host's signed manifest, switches to it, checks health, rolls back.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib) mkOption types;

  cfg = config.services.tsdeploy-agent;
  json = pkgs.formats.json { };

  # The unit's StateDirectory, and settings.stateDir (read-only, so the two cannot drift apart).
  stateDir = "/var/lib/tsdeploy-agent";

  # Where systemd puts the enrollment token: readable by this unit only, never in the store.
  tokenCredential = "/run/credentials/tsdeploy-agent.service/enrollment-token";

  # settings as the agent reads it: unset (null) fields are left out.
  configFile = json.generate "tsdeploy-agent.json" (lib.filterAttrsRecursive (_: value: value != null) cfg.settings);

  # The agent's own check-config runs at build time, so a configuration it would refuse never reaches a host.
  checkedConfigFile = pkgs.runCommand "tsdeploy-agent-checked.json" { inherit configFile; } ''
    ${lib.getExe' cfg.package "tsdeploy-agent"} check-config "$configFile"
    cp "$configFile" "$out"
  '';

  distinctKeys = lib.length (lib.unique cfg.settings.trustedKeys);

  renamed = name: lib.mkRenamedOptionModule [ "services" "tsdeploy-agent" name ] [ "services" "tsdeploy-agent" "settings" name ];
in
{
  imports = map renamed [
    "host"
    "source"
    "trustedKeys"
    "threshold"
    "poll"
    "health"
    "rollback"
  ];

  options.services.tsdeploy-agent = {
    enable = lib.mkEnableOption "tsdeploy-agent, which pulls this host's signed desired generation, switches to it, checks its health and rolls back when it is unhealthy";

    package = lib.mkPackageOption pkgs "tsdeploy" { } // {
      default = pkgs.tsdeploy or (pkgs.callPackage ./package.nix { });
      # The flake's nixosModules set tsdeploy.packages.<system>.default instead (with lib.mkDefault).
      defaultText = lib.literalExpression ''pkgs.tsdeploy or (pkgs.callPackage "''${tsdeploy}/nixos-module/package.nix" { })'';
    };

    enrollmentTokenFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/var/lib/tsdeploy-agent-token";
      description = ''
        A file outside the Nix store holding a one-time token from `tsdeploy-controller tokens create`,
        with which the agent enrolls its key. It reaches the agent as a systemd credential
        (`LoadCredential`), so its contents never enter the store.

        The file may be missing: the credential then falls back to an empty token (`SetCredential`),
        the agent starts anyway and its enrollment waits for `tsdeploy-controller hosts approve`.
        A token is used once; keep it where it survives a reboot until the agent has enrolled
        (not under `/run`, which is emptied at every boot, unless a secrets tool recreates it there).
      '';
    };

    cache = {
      substituters = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "https://cache.example.org" ];
        description = "Binary caches the closures come from, added to `nix.settings.extra-substituters`.";
      };
      trustedPublicKeys = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "cache-1:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=" ];
        description = "Keys those caches sign with, added to `nix.settings.extra-trusted-public-keys`.";
      };
    };

    metrics.textfile = mkOption {
      type = types.nullOr (types.strMatching "/.+\\.prom");
      default = null;
      example = "/var/lib/prometheus-node-exporter-text-files/tsdeploy.prom";
      description = ''
        Where the agent writes its metrics (the accepted version, the deployment phase, the last outcome,
        whether a reboot is needed) in Prometheus text format after every step, for node_exporter's
        textfile collector: point `services.prometheus.exporters.node` at this file's directory with
        `--collector.textfile.directory`. The file is replaced atomically, so a scrape never reads half of it.
        Sets `settings.metrics.textfile`; null writes no metrics.
      '';
    };

    settings = mkOption {
      type = import ./agent-settings.nix {
        inherit lib;
        nixosConfig = config;
        jsonType = json.type;
      };
      default = { };
      example = lib.literalExpression ''
        {
          source = "https://deploy.example.org";
          trustedKeys = [ "release-1:…" ];
          health.checks = [ { systemd = { }; } { controller = { }; } ];
          logLevel = "debug";
          reports.queueLimit = 5000;
        }
      '';
      description = ''
        The agent's JSON config (see the README), written to `/etc/tsdeploy/agent.json` and checked
        with `tsdeploy-agent check-config` when the system is built. The common fields are typed
        options; any other field (`logLevel`, `reports`, `timeouts`, `minFreeBytes`, …) may be set too.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    services.tsdeploy-agent.settings = {
      inherit stateDir;
      enrollmentTokenFile = if cfg.enrollmentTokenFile == null then null else tokenCredential;
      metrics = lib.mkIf (cfg.metrics.textfile != null) { inherit (cfg.metrics) textfile; };
    };

    assertions = [
      {
        assertion = cfg.settings.trustedKeys != [ ];
        message = "services.tsdeploy-agent.settings.trustedKeys is empty: list the release public keys whose signatures this host accepts.";
      }
      {
        assertion = cfg.settings.trustedKeys == [ ] || cfg.settings.threshold <= distinctKeys;
        message = "services.tsdeploy-agent.settings.threshold is ${toString cfg.settings.threshold}, but trustedKeys has only ${toString distinctKeys} distinct keys.";
      }
      {
        assertion =
          cfg.enrollmentTokenFile == null
          || (lib.hasPrefix "/" cfg.enrollmentTokenFile && !lib.hasPrefix "${builtins.storeDir}/" cfg.enrollmentTokenFile);
        message = "services.tsdeploy-agent.enrollmentTokenFile must be an absolute path outside the Nix store (a secret in the store is readable by every user).";
      }
    ];

    warnings = lib.optional (cfg.cache.substituters != [ ] && cfg.cache.trustedPublicKeys == [ ]) (
      "services.tsdeploy-agent.cache.substituters is set but cache.trustedPublicKeys is empty: "
      + "Nix refuses paths that no trusted key has signed, unless the cache's key is already in nix.settings.trusted-public-keys."
    );

    nix.settings = lib.mkMerge [
      (lib.mkIf (cfg.cache.substituters != [ ]) { extra-substituters = cfg.cache.substituters; })
      (lib.mkIf (cfg.cache.trustedPublicKeys != [ ]) { extra-trusted-public-keys = cfg.cache.trustedPublicKeys; })
    ];

    # A stable path for operators: `tsdeploy-agent pubkey --config /etc/tsdeploy/agent.json`.
    environment.etc."tsdeploy/agent.json".source = checkedConfigFile;

    environment.systemPackages = [ cfg.package ];

    systemd.services.tsdeploy-agent = {
      description = "tsdeploy agent: pulls, switches to and health-checks this host's desired generation";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];

      # As system.autoUpgrade does: switch-to-configuration, which the agent itself runs, must not
      # restart or stop the agent in the middle of a deployment. After a confirmed switch that changed
      # this unit, the agent exits and systemd starts the new one (Restart=always).
      restartIfChanged = false;
      unitConfig.X-StopOnRemoval = false;

      # nix-store and nix-env realise and set the profile; systemctl answers the systemd check.
      path = [
        config.nix.package
        config.systemd.package
      ];
      environment = config.nix.envVars // config.networking.proxy.envVars;

      serviceConfig = {
        # Root: setting the system profile and activating a generation need it.
        ExecStart = "${lib.getExe' cfg.package "tsdeploy-agent"} run --config ${checkedConfigFile}";
        Restart = "always";
        RestartSec = 10;
        StateDirectory = lib.removePrefix "/var/lib/" stateDir;
        StateDirectoryMode = "0700";
      }
      // lib.optionalAttrs (cfg.enrollmentTokenFile != null) {
        # The token file may be missing (not made yet, or gone after a reboot): LoadCredential then
        # fails, and SetCredential's value, a lone newline (the agent's "no token"), takes its place,
        # so the unit still starts and the enrollment waits for approval. systemd refuses an empty
        # SetCredential value, hence the newline.
        LoadCredential = [ "enrollment-token:${cfg.enrollmentTokenFile}" ];
        SetCredential = [ "enrollment-token:\\n" ];
      };
    };
  };

  meta = {
    maintainers = [ ];
    doc = ./tsdeploy.md;
  };
}
