# tsdeploy's NixOS modules; non-flake hosts use `imports = [ "${tsdeploy}/nixos-module" ];`.
{
  imports = [
    ./agent.nix
    ./controller.nix
  ];
}
