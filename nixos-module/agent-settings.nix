# The type of services.tsdeploy-agent.settings (RFC 42): the agent's JSON config as a freeform attribute
# set, with typed options for the fields a host usually sets. What it evaluates to is what the agent reads.
{
  lib,
  # The host's NixOS configuration, for defaults taken from it.
  nixosConfig,
  # The type of `(pkgs.formats.json { }).type`: anything else of the agent's config.
  jsonType,
}:

let
  inherit (lib) mkOption types;

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

  checkSubmodule =
    description: options:
    mkOption {
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

  # `{ http = { url = …; }; }` as the agent reads it: `{ "type": "http", "url": … }`, without unset fields.
  checkToJson =
    check:
    let
      type = lib.head (lib.attrNames check);
    in
    { inherit type; } // lib.filterAttrs (_: value: value != null) check.${type};

  seconds =
    min: max: default: description:
    mkOption {
      type = types.ints.between min max;
      inherit default description;
    };
in
types.submodule {
  freeformType = jsonType;

  options = {
    host = mkOption {
      type = types.str;
      default = nixosConfig.networking.hostName;
      defaultText = lib.literalExpression "config.networking.hostName";
      description = "The name manifests for this host carry; a manifest for any other host is refused.";
    };

    source = mkOption {
      type = types.str;
      example = "https://deploy.example.org";
      description = ''
        Where manifests come from: the controller's http(s) URL (long-polled, with health reports),
        or a static http(s) or file:// directory holding `v1/hosts/<host>/manifest`.
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

    stateDir = mkOption {
      type = types.str;
      readOnly = true;
      description = ''
        The agent's state directory: always `/var/lib/tsdeploy-agent`, the unit's `StateDirectory`
        (read-only, so the two cannot drift apart).
      '';
    };

    enrollmentTokenFile = mkOption {
      type = types.nullOr types.str;
      readOnly = true;
      description = ''
        Where the agent reads its enrollment token: the unit's credential, set from
        `services.tsdeploy-agent.enrollmentTokenFile` (read-only).
      '';
    };

    poll = {
      intervalSeconds = seconds 1 86400 60 "Seconds between polls of a static source, and before retrying a failed long-poll.";
      jitterSeconds = seconds 0 86400 10 "Up to this many random seconds are added to each interval, so a fleet does not poll in step.";
      waitSeconds = seconds 0 60 50 "How long the controller may hold a long-poll open.";
      cron = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "*/15 * * * *";
        description = "A cron expression that replaces `intervalSeconds` for static sources.";
      };
    };

    health = {
      checks = mkOption {
        type = types.listOf healthCheckType;
        default = [ ];
        apply = map checkToJson;
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
          (`http`, `tcp`, `command`, `systemd` or `controller`). The config file has each as
          `{ "type": …, … }`.
        '';
      };
      timeoutSeconds = seconds 1 86400 120 "Every check must pass within this many seconds after activation…";
      stableSeconds = seconds 0 86400 10 "…and then keep passing for this many seconds, or the host rolls back.";
    };

    rollback =
      lib.mapAttrs
        (
          _: description:
          mkOption {
            type = types.bool;
            default = true;
            inherit description;
          }
        )
        {
          onActivationFailure = "Roll back when switch-to-configuration fails.";
          onHealthFailure = "Roll back when the health checks do not pass in time.";
          onControllerUnreachable = "Roll back when only the controller check fails and no network probe (`health.networkProbes`, by default the substituters) answers either: the new generation cut the host off. A controller outage alone never rolls back.";
        };
  };
}
