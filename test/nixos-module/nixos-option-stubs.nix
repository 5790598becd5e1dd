# Stand-ins for the NixOS options that nixos-module/ sets (no nixpkgs checkout can be fetched here): the
# same names, and types that merge as NixOS's do. No freeform types, so a misspelt option fails the test.
{ lib, pkgs, ... }:

let
  inherit (lib) mkOption types;

  # NixOS's unit options: a list definition is concatenated, anything else must be defined once.
  unitAtom = types.oneOf [
    types.bool
    types.int
    types.str
    types.package
  ];
  unitOption = types.either unitAtom (types.listOf unitAtom);

  strings = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };

  serviceType = types.submodule {
    options = {
      enable = mkOption {
        type = types.bool;
        default = true;
      };
      description = mkOption {
        type = types.str;
        default = "";
      };
      wantedBy = strings;
      requiredBy = strings;
      wants = strings;
      requires = strings;
      after = strings;
      before = strings;
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
      serviceConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      unitConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      script = mkOption {
        type = types.lines;
        default = "";
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
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
    };
  };

  # NixOS's nix.settings: a few declared settings, and a freeform of Nix's value types for the rest.
  nixConfAtom = types.nullOr (
    types.oneOf [
      types.bool
      types.int
      types.float
      types.str
      types.path
      types.package
    ]
  );
  nixConfType = types.submodule {
    freeformType = types.attrsOf (types.either nixConfAtom (types.listOf nixConfAtom));
    options = {
      substituters = strings;
      trusted-public-keys = strings;
      trusted-users = strings;
    };
  };
in
{
  options = {
    systemd.services = mkOption {
      type = types.attrsOf serviceType;
      default = { };
    };

    nix = {
      package = mkOption {
        type = types.package;
        default = pkgs.nix;
      };
      settings = mkOption {
        type = nixConfType;
        default = { };
      };
      envVars = mkOption {
        type = types.attrsOf types.str;
        default = { };
        internal = true;
      };
    };

    networking = {
      hostName = mkOption {
        type = types.str;
        default = "nixos";
      };
      proxy.envVars = mkOption {
        type = types.attrsOf types.str;
        default = { };
      };
      firewall = {
        allowedTCPPorts = mkOption {
          type = types.listOf types.port;
          default = [ ];
        };
        allowedUDPPorts = mkOption {
          type = types.listOf types.port;
          default = [ ];
        };
      };
    };

    users = {
      users = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              isSystemUser = mkOption {
                type = types.bool;
                default = false;
              };
              group = mkOption {
                type = types.str;
                default = "";
              };
              home = mkOption {
                type = types.str;
                default = "/var/empty";
              };
            };
          }
        );
        default = { };
      };
      groups = mkOption {
        type = types.attrsOf (types.submodule { });
        default = { };
      };
    };

    environment = {
      etc = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              source = mkOption { type = types.path; };
              mode = mkOption {
                type = types.str;
                default = "symlink";
              };
            };
          }
        );
        default = { };
      };
      systemPackages = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
    };

    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
      internal = true;
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
      internal = true;
    };
  };
}
