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
        agent = ./nixos-module/agent.nix;
        controller = ./nixos-module/controller.nix;
        default = ./nixos-module;
      };

      # `nix flake check` on a machine with KVM: the package, and a controller with two agents in VMs.
      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        vm = pkgs.testers.runNixOSTest (import ./nixos-module/tests/vm.nix { inherit self; });
      });
    };
}
