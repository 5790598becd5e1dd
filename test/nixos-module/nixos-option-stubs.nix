# Stand-ins for the NixOS options that nixos-module/ sets (no nixpkgs checkout can be fetched here): the
# same names, and types that merge as NixOS's do. No freeform types, so a misspelt option fails the test.
# systemd's options are in systemd-stubs.nix.
{ lib, pkgs, ... }:

let
  inherit (lib) mkOption types;

  strings = mkOption {
    type = types.listOf types.str;
    default = [ ];
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
  imports = [ ./systemd-stubs.nix ];

  options = {
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

    # As nixos/modules/misc/meta.nix: maintainers from lib.maintainers, one documentation file per module.
    meta = {
      maintainers = mkOption {
        type = types.listOf (types.attrsOf types.anything);
        default = [ ];
        internal = true;
      };
      doc = mkOption {
        # Every module's file with its definition, as NixOS keeps them.
        type = types.path // {
          merge = _loc: defs: defs;
        };
        internal = true;
      };
    };
  };
}
