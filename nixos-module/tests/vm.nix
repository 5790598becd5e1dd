# NixOS VM test for machines with KVM (`nix flake check`, or `nix build .#checks.x86_64-linux.vm`): a
# controller that also serves a binary cache (harmonia), and two agents. It covers enrollment without a
# token file (approval) and with one, a `switch` substituted from the cache and confirmed (the profile and
# /run/current-system on the new path), the agent restarting into the unit the new generation brings, a
# controller restart, a rollback, and a reboot into the confirmed generation (web1 boots through
# systemd-boot, so a reboot starts the system profile's generation, as on a real host).
{ self }:
{ lib, ... }:

let
  # Throw-away keys for this test only, made with `tsdeploy-controller keygen` (the same format as Nix's).
  releasePublic = "vm-test-release-1:yKVibCMSPPHIJqOZjsi9EztXmotv/fWkYrLs+/ticZQ=";
  releaseSecret = "vm-test-release-1:ePoMnv+2Qq/lmZ3b1UsJYOya8DrljHfeUlQJmbQehJPIpWJsIxI88cgmo5mOyL0TO1eai2/99aRisuz7+2JxlA==";
  cachePublic = "vm-test-cache-1:dnGJmhlm5tSySLyhXWQ4qvP/lBGFgVYsSkQbGGPQ5TU=";
  cacheSecret = "vm-test-cache-1:wn+rJQBtg1Qazt5kCLF8wAdgxx20BYZc07uNbtlrMAp2cYmaGWbm1LJIvKFdZDiq8/+UEYWBVixKRBsYY9DlNQ==";

  tokenFile = "/var/lib/tsdeploy-agent-token";

  agent =
    { extendModules, pkgs, ... }:
    let
      # Other generations of this same host, built from its configuration (so they keep the test
      # driver's backdoor and the qemu settings). They are not in the host's own closure: the agent
      # has to substitute them from the controller's cache.
      generation = module: (extendModules { modules = [ module ]; }).config.system.build.toplevel;
    in
    {
      imports = [ self.nixosModules.agent ];

      services.tsdeploy-agent = {
        enable = true;
        # Not there when the host boots: the agent starts anyway and waits for approval or a token.
        enrollmentTokenFile = tokenFile;
        cache = {
          substituters = [ "http://controller:5000" ];
          trustedPublicKeys = [ cachePublic ];
        };
        settings = {
          source = "http://controller:8080";
          trustedKeys = [ releasePublic ];
          logLevel = lib.mkDefault "info";
          poll = {
            intervalSeconds = 2;
            jitterSeconds = 0;
          };
          health = {
            checks = [ { http.url = "http://127.0.0.1/"; } ];
            timeoutSeconds = 60;
            stableSeconds = 3;
          };
        };
      };
      # No cache.nixos.org in here: the controller's cache is the only substituter.
      nix.settings.substituters = lib.mkForce [ ];

      services.nginx = {
        enable = true;
        virtualHosts.default = {
          default = true;
          locations."/".return = lib.mkDefault "200 v1";
        };
      };
      environment.systemPackages = [ pkgs.curl ];
      virtualisation.memorySize = 1536;

      system.build = {
        # Serves v2, and its agent logs at debug: another config file, so another agent unit.
        tsdeployNext = generation {
          services.nginx.virtualHosts.default.locations."/".return = "200 v2";
          services.tsdeploy-agent.settings.logLevel = "debug";
        };
        # No web server: the health check fails and the agent rolls back (its own unit is the one of
        # tsdeployNext, so the rollback does not change the agent).
        tsdeployUnhealthy = generation {
          services.nginx.enable = lib.mkForce false;
          services.tsdeploy-agent.settings.logLevel = "debug";
        };
      };
    };
in
{
  name = "tsdeploy";
  meta.maintainers = [ ];

  nodes = {
    controller =
      { nodes, pkgs, ... }:
      {
        imports = [ self.nixosModules.controller ];
        services.tsdeploy-controller = {
          enable = true;
          listen.address = "0.0.0.0";
          openFirewall = true;
          settings.trustedReleaseKeys = [ releasePublic ];
        };
        # The binary cache the agents substitute from: this machine's store, signed on the fly.
        services.harmonia = {
          enable = true;
          signKeyPaths = [ (pkgs.writeText "vm-test-cache-1.secret" cacheSecret) ];
        };
        networking.firewall.allowedTCPPorts = [ 5000 ];
        system.extraDependencies = lib.concatMap (node: [
          node.system.build.tsdeployNext
          node.system.build.tsdeployUnhealthy
        ]) [ nodes.web1 nodes.web2 ];

        environment.etc."tsdeploy-vm-test/release.secret" = {
          text = releaseSecret;
          mode = "0600";
        };
        environment.systemPackages = [ pkgs.jq ];
      };

    web1 = {
      imports = [ agent ];
      # The boot loader's disk image is sized to its closure (make-disk-image's "auto"), which leaves
      # less than the agent's default free-space margin: a new generation only adds a few MiB.
      services.tsdeploy-agent.settings.minFreeBytes = 0;
      virtualisation.useBootLoader = true;
      virtualisation.useEFIBoot = true;
      boot.loader.systemd-boot.enable = true;
      boot.loader.efi.canTouchEfiVariables = true;
    };

    web2 = agent;
  };

  testScript = { nodes, ... }: import ./vm-script.nix { inherit nodes tokenFile; };
}
