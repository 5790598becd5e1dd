# Stand-ins for NixOS's systemd options: systemd.services with NixOS's types (unit names need their
# suffix, Type= and Restart= take only systemd's values), the default PATH NixOS gives every service,
# and systemd.units."<name>.service".text rendered as NixOS renders it (see systemd-render.nix).
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib) mkOption types;
  nixosConfig = config;
  render = import ./systemd-render.nix { inherit lib; };

  unitNames = mkOption {
    type = types.listOf render.unitNameType;
    default = [ ];
  };

  unitSection = mkOption {
    type = types.attrsOf render.unitOption;
    default = { };
  };

  serviceModule =
    { config, ... }:
    let
      service = config;
    in
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
        };
        description = mkOption {
          type = types.singleLineStr;
          default = "";
        };
        documentation = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        wantedBy = unitNames;
        requiredBy = unitNames;
        aliases = unitNames;
        wants = unitNames;
        requires = unitNames;
        after = unitNames;
        before = unitNames;
        bindsTo = unitNames;
        partOf = unitNames;
        conflicts = unitNames;
        requisite = unitNames;
        onFailure = unitNames;
        onSuccess = unitNames;
        path = mkOption {
          type = types.listOf (types.either types.package types.str);
          default = [ ];
        };
        environment = mkOption {
          type = types.attrsOf (
            types.nullOr (
              types.oneOf [
                types.str
                types.path
                types.package
              ]
            )
          );
          default = { };
        };
        unitConfig = unitSection;
        serviceConfig = mkOption {
          type = types.addCheck (types.attrsOf render.unitOption) render.checkService;
          default = { };
        };
        restartIfChanged = mkOption {
          type = types.bool;
          default = true;
        };
        reloadIfChanged = mkOption {
          type = types.bool;
          default = false;
        };
        stopIfChanged = mkOption {
          type = types.bool;
          default = true;
        };
      };

      # As NixOS: every service's PATH ends with coreutils, findutils, grep, sed and systemd, and
      # `path` becomes Environment=PATH (bin, then sbin, of each package).
      config = {
        path = lib.mkAfter [
          pkgs.coreutils
          pkgs.findutils
          pkgs.gnugrep
          pkgs.gnused
          nixosConfig.systemd.package
        ];
        environment.PATH = lib.mkIf (service.path != [ ]) "${lib.makeBinPath service.path}:${lib.makeSearchPathOutput "bin" "sbin" service.path}";
      };
    };
in
{
  options.systemd = {
    package = mkOption {
      type = types.package;
      default = pkgs.systemd;
    };
    globalEnvironment = mkOption {
      type = types.attrsOf (
        types.nullOr (
          types.oneOf [
            types.str
            types.path
            types.package
          ]
        )
      );
      default = { };
    };
    services = mkOption {
      type = types.attrsOf (types.submodule serviceModule);
      default = { };
    };
    units = mkOption {
      type = types.attrsOf types.unspecified;
      readOnly = true;
      description = "The rendered units, `{ text; }` by file name (only services here).";
    };
  };

  config.systemd.units = lib.mapAttrs' (
    name: service:
    lib.nameValuePair "${name}.service" {
      text = render.serviceText { inherit (config.systemd) globalEnvironment; } service;
    }
  ) (lib.filterAttrs (_: service: service.enable) config.systemd.services);
}
