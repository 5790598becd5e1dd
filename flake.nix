# tsdeploy as a flake: the package, an overlay adding pkgs.tsdeploy, and the NixOS modules.
{
  description = "Pull-based, signed, self-rolling-back deployments for NixOS fleets";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # As comin's module does: the package defaults to pkgs.tsdeploy (the overlay) if there is one,
      # else to this flake's package for the host's system, else to one built with the host's nixpkgs.
      withFlakePackage = service: module: {
        # A key, so that importing both nixosModules.default and nixosModules.agent loads it once.
        key = "${toString ./flake.nix}#nixosModules.${service}";
        _file = "${toString ./flake.nix}#nixosModules.${service}";
        imports = [
          module
          (
            { lib, pkgs, ... }:
            {
              services.${service}.package = lib.mkDefault (
                pkgs.tsdeploy
                  or self.packages.${pkgs.stdenv.hostPlatform.system}.default
                  or (pkgs.callPackage ./nixos-module/package.nix { })
              );
            }
          )
        ];
      };
      agent = withFlakePackage "tsdeploy-agent" ./nixos-module/agent.nix;
      controller = withFlakePackage "tsdeploy-controller" ./nixos-module/controller.nix;
    in
    {
      overlays.default = final: _prev: {
        tsdeploy = final.callPackage ./nixos-module/package.nix { };
      };

      packages = forAllSystems (pkgs: rec {
        tsdeploy = pkgs.callPackage ./nixos-module/package.nix { };
        default = tsdeploy;
      });

      nixosModules = {
        inherit agent controller;
        default = {
          imports = [
            agent
            controller
          ];
        };
      };

      # `nix flake check` on a machine with KVM: the package, and a controller with two agents in VMs.
      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        vm = pkgs.testers.runNixOSTest (import ./nixos-module/tests/vm.nix { inherit self; });
      });
    };
}
