# The lab host whose agent unit is rendered to tsdeploy-agent.service (next to this file), the unit the
# systemd lab runs as the agent's real unit, rewriting only ExecStart, the config path and PATH.
# Rendered for x86_64-linux with the stand-ins of pkgs-stand-in.nix (never built), and with NixOS's
# nix.envVars, networking.proxy.envVars and systemd.globalEnvironment empty, so its store paths are
# the same on every machine. Regenerate it with `node --import tsx test/nixos-module/render-unit.ts`.
{
  networking.hostName = "host1";
  services.tsdeploy-agent = {
    enable = true;
    # A persistent path that may be missing: the agent then starts without a token (SetCredential).
    enrollmentTokenFile = "/var/lib/tsdeploy-agent-token";
    settings = {
      source = "http://10.213.0.1:8080";
      trustedKeys = [ "lab-release-1:lgteTiu6wqKRdM9lI/XpF6Q0d0p69O6O3PwJ6TS4Pbk=" ];
      health.checks = [ { controller = { }; } ];
    };
  };
}
