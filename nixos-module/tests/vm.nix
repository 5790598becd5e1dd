# NixOS VM test for machines with KVM (`nix flake check`): a controller and two agents, a deploy and a rollback.
# It cannot run on the CI machines (no KVM, no nixpkgs there), so it is kept small.
{ self }:
{ ... }:

let
  # A throw-away release key pair for this test only, made with `tsdeploy-controller keygen`.
  releasePublic = "vm-test-release-1:yKVibCMSPPHIJqOZjsi9EztXmotv/fWkYrLs+/ticZQ=";
  releaseSecret = "vm-test-release-1:ePoMnv+2Qq/lmZ3b1UsJYOya8DrljHfeUlQJmbQehJPIpWJsIxI88cgmo5mOyL0TO1eai2/99aRisuz7+2JxlA==";

  agent =
    { pkgs, ... }:
    {
      imports = [ self.nixosModules.agent ];
      services.tsdeploy-agent = {
        enable = true;
        source = "http://controller:8080";
        trustedKeys = [ releasePublic ];
        enrollmentTokenFile = "/run/keys/tsdeploy-token";
        poll = {
          intervalSeconds = 2;
          jitterSeconds = 0;
        };
        health = {
          checks = [ { http.url = "http://127.0.0.1/"; } ];
          timeoutSeconds = 30;
          stableSeconds = 3;
        };
      };
      environment.systemPackages = [ pkgs.curl ];

      # The two generations the test deploys, in every agent's closure: one serves HTTP, one does not.
      specialisation.healthy.configuration = {
        services.nginx = {
          enable = true;
          virtualHosts.default = {
            default = true;
            locations."/".return = "200 healthy";
          };
        };
      };
      specialisation.unhealthy.configuration = {
        environment.etc."tsdeploy-vm-test".text = "no web server in this generation";
      };
    };
in
{
  name = "tsdeploy";

  nodes = {
    controller =
      { pkgs, ... }:
      {
        imports = [ self.nixosModules.controller ];
        services.tsdeploy-controller = {
          enable = true;
          listen.address = "0.0.0.0";
          openFirewall = true;
          trustedReleaseKeys = [ releasePublic ];
        };
        environment.etc."tsdeploy-vm-test/release.secret" = {
          text = releaseSecret;
          mode = "0600";
        };
        environment.systemPackages = [ pkgs.jq ];
      };
    web1 = agent;
    web2 = agent;
  };

  testScript = ''
    import json

    url = "http://127.0.0.1:8080"
    key = "/etc/tsdeploy-vm-test/release.secret"
    agents = {"web1": web1, "web2": web2}

    def state_is(host, state):
        return f"tsdeploy-controller status --controller {url} --json | jq -e '.hosts[] | select(.host == \"{host}\") | .state == \"{state}\"'"

    def generation(machine, name):
        return machine.succeed(f"readlink -f /run/current-system/specialisation/{name}").strip()

    def system_profile(machine):
        return machine.succeed("readlink -f /nix/var/nix/profiles/system").strip()

    start_all()
    controller.wait_for_unit("tsdeploy-controller.service")
    controller.wait_for_open_port(8080)

    with subtest("each agent enrolls with a one-time token"):
        for host, machine in agents.items():
            token = controller.succeed(f"tsdeploy-controller tokens create --host {host} --config /etc/tsdeploy/controller.json").strip()
            machine.succeed(f"install -D -m 0600 /dev/null /run/keys/tsdeploy-token && echo {token} > /run/keys/tsdeploy-token")
            machine.systemctl("restart tsdeploy-agent.service")
            machine.wait_for_unit("tsdeploy-agent.service")

    healthy = {host: generation(machine, "healthy") for host, machine in agents.items()}

    with subtest("a release for both hosts is deployed and confirmed"):
        release = json.dumps({"hosts": healthy})
        controller.succeed(f"echo '{release}' > /tmp/release.json")
        controller.succeed(f"tsdeploy-controller publish --controller {url} --key {key} --release /tmp/release.json --activation test")
        for host, machine in agents.items():
            machine.wait_until_succeeds("curl -sf http://127.0.0.1/", timeout=180)
            assert system_profile(machine) == healthy[host]
            controller.wait_until_succeeds(state_is(host, "in-sync"), timeout=180)

    with subtest("an unhealthy generation is rolled back to the exact previous one"):
        unhealthy = generation(web2, "unhealthy")
        controller.succeed(f"tsdeploy-controller publish --controller {url} --key {key} --host web2 --path {unhealthy} --activation test")
        controller.wait_until_succeeds(state_is("web2", "rolled-back"), timeout=300)
        assert system_profile(web2) == healthy["web2"]
        web2.succeed("curl -sf http://127.0.0.1/")
        controller.succeed(state_is("web1", "in-sync"))
  '';
}
