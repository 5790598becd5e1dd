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

  stateDir = "/var/lib/tsdeploy-agent";

  # Where systemd puts the enrollment token (LoadCredential): readable by this unit only, never in the store.
  tokenCredential = "/run/credentials/tsdeploy-agent.service/enrollment-token";

  checkName = mkOption {
    type = types.nullOr types.str;
    default = null;
    description = "A name for this check in logs and health reports.";
  };

  checkTimeout =
    default:
    mkOption {
      type = types.numbers.positive;
      inherit default;
      description = "Seconds one run of this check may take before it counts as failed.";
    };

  checkSubmodule = description: options: mkOption {
    inherit description;
    type = types.submodule { inherit options; };
  };

  # One submodule per check type; the tag becomes the JSON `type` field.
  healthCheckType = types.attrTag {
    http = checkSubmodule "An HTTP GET that must answer with `expectStatus`, or with any 2xx status." {
      name = checkName;
      url = mkOption {
        type = types.str;
        example = "http://127.0.0.1:8080/health";
        description = "The http:// or https:// URL to fetch.";
      };
      expectStatus = mkOption {
        type = types.nullOr (types.ints.between 100 599);
        default = null;
        description = "The status the answer must have; any 2xx when null.";
      };
      timeoutSeconds = checkTimeout 5;
    };
    tcp = checkSubmodule "A TCP connection that must be accepted." {
      name = checkName;
      host = mkOption {
        type = types.str;
        example = "127.0.0.1";
        description = "The host to connect to.";
      };
      port = mkOption {
        type = types.port;
        description = "The port to connect to.";
      };
      timeoutSeconds = checkTimeout 5;
    };
    command = checkSubmodule "A program that must exit with status 0; it runs without a shell." {
      name = checkName;
      argv = mkOption {
        type = types.nonEmptyListOf types.str;
        example = lib.literalExpression ''[ "''${pkgs.postgresql}/bin/pg_isready" "-q" ]'';
        description = "The program (an absolute path) and its arguments.";
      };
      timeoutSeconds = checkTimeout 30;
    };
    systemd = checkSubmodule "`systemctl is-system-running` must say `running` and no unit may have failed." {
      name = checkName;
      allowDegraded = mkOption {
        type = types.bool;
        default = false;
        description = "Whether `degraded` counts as healthy.";
      };
      timeoutSeconds = checkTimeout 10;
    };
    controller = checkSubmodule "The controller must be reachable (an http(s) `source` is needed)." {
      name = checkName;
      timeoutSeconds = checkTimeout 10;
    };
  };

  checkToJson =
    check:
    let
      type = lib.head (lib.attrNames check);
    in
    { inherit type; } // lib.filterAttrs (_: value: value != null) check.${type};

  # The typed options, then `settings` over them: settings wins, attribute by attribute.
  agentConfig = lib.recursiveUpdate (
    {
      inherit (cfg)
        host
        source
        trustedKeys
        threshold
        ;
      inherit stateDir;
      poll = {
        inherit (cfg.poll) intervalSeconds jitterSeconds waitSeconds;
      }
      // lib.optionalAttrs (cfg.poll.cron != null) { inherit (cfg.poll) cron; };
      health = {
        checks = map checkToJson cfg.health.checks;
        inherit (cfg.health) timeoutSeconds stableSeconds;
      };
      rollback = {
        inherit (cfg.rollback) onActivationFailure onHealthFailure onControllerUnreachable;
      };
    }
    // lib.optionalAttrs (cfg.enrollmentTokenFile != null) { enrollmentTokenFile = tokenCredential; }
  ) cfg.settings;

  configFile = json.generate "tsdeploy-agent.json" agentConfig;

  # The agent's own check-config runs at build time, so a configuration it would refuse never reaches a host.
  checkedConfigFile = pkgs.runCommand "tsdeploy-agent-checked.json" { inherit configFile; } ''
    ${cfg.package}/bin/tsdeploy-agent check-config "$configFile"
    cp "$configFile" "$out"
  '';

  distinctKeys = lib.length (lib.unique cfg.trustedKeys);
in
{
  options.services.tsdeploy-agent = {
    enable = lib.mkEnableOption "tsdeploy-agent, which pulls this host's signed desired generation, switches to it, checks its health and rolls back when it is unhealthy";

    package = mkOption {
      type = types.package;
      default = pkgs.tsdeploy or (pkgs.callPackage ./package.nix { });
      defaultText = lib.literalExpression ''pkgs.tsdeploy or (pkgs.callPackage "''${tsdeploy}/nixos-module/package.nix" { })'';
      description = "The tsdeploy package to use (`pkgs.tsdeploy` when the flake's overlay is applied).";
    };

    host = mkOption {
      type = types.str;
      default = config.networking.hostName;
      defaultText = lib.literalExpression "config.networking.hostName";
      description = "The name manifests for this host carry; a manifest for any other host is refused.";
    };

    source = mkOption {
      type = types.str;
      example = "https://deploy.example.org";
      description = ''
        Where manifests come from: the controller's http(s) URL (long-polled, with health reports),
        or a static http(s) or file:// directory holding `<host>.json`.
      '';
    };

    trustedKeys = mkOption {
      type = types.listOf types.str;
      example = [ "release-1:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=" ];
      description = ''
        Release public keys (Nix's `name:base64` format, as printed by `tsdeploy-controller keygen`)
        whose signatures make a manifest acceptable.
      '';
    };

    threshold = mkOption {
      type = types.ints.positive;
      default = 1;
      description = "How many distinct keys of `trustedKeys` must have signed a manifest.";
    };

    poll = {
      intervalSeconds = mkOption {
        type = types.ints.between 1 86400;
        default = 60;
        description = "Seconds between polls of a static source, and before retrying a failed long-poll.";
      };
      jitterSeconds = mkOption {
        type = types.ints.between 0 86400;
        default = 10;
        description = "Up to this many random seconds are added to each interval, so a fleet does not poll in step.";
      };
      cron = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "*/15 * * * *";
        description = "A cron expression that replaces `intervalSeconds` for static sources.";
      };
      waitSeconds = mkOption {
        type = types.ints.between 0 60;
        default = 50;
        description = "How long the controller may hold a long-poll open.";
      };
    };

    health = {
      checks = mkOption {
        type = types.listOf healthCheckType;
        default = [ ];
        example = lib.literalExpression ''
          [
            { systemd = { }; }
            { http = { url = "http://127.0.0.1/health"; expectStatus = 200; }; }
            { tcp = { host = "127.0.0.1"; port = 5432; }; }
            { command = { argv = [ "''${pkgs.postgresql}/bin/pg_isready" "-q" ]; }; }
            { controller = { }; }
          ]
        '';
        description = ''
          Checks a new generation must pass after activation, one attribute naming the check's type
          (`http`, `tcp`, `command`, `systemd` or `controller`).
        '';
      };
      timeoutSeconds = mkOption {
        type = types.ints.between 1 86400;
        default = 120;
        description = "Every check must pass within this many seconds after activation…";
      };
      stableSeconds = mkOption {
        type = types.ints.between 0 86400;
        default = 10;
        description = "…and then keep passing for this many seconds, or the host rolls back.";
      };
    };

    rollback = {
      onActivationFailure = mkOption {
        type = types.bool;
        default = true;
        description = "Roll back when switch-to-configuration fails.";
      };
      onHealthFailure = mkOption {
        type = types.bool;
        default = true;
        description = "Roll back when the health checks do not pass in time.";
      };
      onControllerUnreachable = mkOption {
        type = types.bool;
        default = true;
        description = "Roll back when the controller cannot be reached after a switch (the new generation may have cut the network).";
      };
    };

    enrollmentTokenFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/keys/tsdeploy-enrollment-token";
      description = ''
        A file outside the Nix store holding a one-time token from `tsdeploy-controller tokens create`,
        with which the agent enrolls its key on first start. It reaches the agent through systemd's
        `LoadCredential`; its contents never enter the store.
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

    settings = mkOption {
      type = json.type;
      default = { };
      example = {
        logLevel = "debug";
        reports.queueLimit = 5000;
        timeouts.realiseSeconds = 7200;
      };
      description = ''
        Anything else of the agent's JSON config (see the README), merged over the options above.
        The result is checked with `tsdeploy-agent check-config` when the system is built.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.trustedKeys != [ ];
        message = "services.tsdeploy-agent.trustedKeys is empty: list the release public keys whose signatures this host accepts.";
      }
      {
        assertion = cfg.trustedKeys == [ ] || cfg.threshold <= distinctKeys;
        message = "services.tsdeploy-agent.threshold is ${toString cfg.threshold}, but trustedKeys has only ${toString distinctKeys} distinct keys.";
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
      # restart or stop the agent in the middle of a deployment.
      restartIfChanged = false;
      unitConfig.X-StopOnRemoval = false;

      # nix-store and nix-env realise and set the profile; systemctl answers the systemd check.
      path = [
        config.nix.package
        pkgs.systemd
      ];
      environment = config.nix.envVars // config.networking.proxy.envVars;

      serviceConfig = {
        # Root: setting the system profile and activating a generation need it.
        ExecStart = "${cfg.package}/bin/tsdeploy-agent run --config ${checkedConfigFile}";
        Restart = "always";
        RestartSec = 10;
        StateDirectory = "tsdeploy-agent";
        StateDirectoryMode = "0700";
        LoadCredential = lib.mkIf (cfg.enrollmentTokenFile != null) [ "enrollment-token:${cfg.enrollmentTokenFile}" ];
      };
    };
  };
}
