# The test script of vm.nix (the NixOS test driver's Python), given the evaluated nodes.
{ nodes, tokenFile }:

let
  next = host: "${nodes.${host}.system.build.tsdeployNext}";
in
''
  import json

  url = "http://127.0.0.1:8080"
  key = "/etc/tsdeploy-vm-test/release.secret"
  admin = "--config /etc/tsdeploy/controller.json"
  agents = {"web1": web1, "web2": web2}
  next_system = {"web1": "${next "web1"}", "web2": "${next "web2"}"}
  unhealthy_web2 = "${nodes.web2.system.build.tsdeployUnhealthy}"


  def state_is(host, state):
      return (
          f"tsdeploy-controller status --controller {url} --json"
          f" | jq -e '.hosts[] | select(.host == \"{host}\") | .state == \"{state}\"'"
      )


  def enrollment_is(host, status):
      return (
          f"tsdeploy-controller hosts list --json {admin}"
          f" | jq -e '.hosts[] | select(.host == \"{host}\") | .status == \"{status}\"'"
      )


  def resolved(machine, path):
      return machine.succeed(f"readlink -f {path}").strip()


  def agent_config_running(machine):
      """The config file the running agent process was started with."""
      pid = machine.succeed("systemctl show -P MainPID tsdeploy-agent.service").strip()
      return machine.succeed(f"tr '\\0' ' ' < /proc/{pid}/cmdline").split("--config ")[1].split()[0]


  def on_system(machine, system):
      assert resolved(machine, "/nix/var/nix/profiles/system") == system, "system profile"
      assert resolved(machine, "/run/current-system") == system, "/run/current-system"


  def publish(args):
      controller.succeed(f"tsdeploy-controller publish --controller {url} --key {key} {args}")


  start_all()
  controller.wait_for_unit("tsdeploy-controller.service")
  controller.wait_for_open_port(8080)
  controller.wait_for_open_port(5000)

  with subtest("the agents start although their token file does not exist"):
      for machine in agents.values():
          machine.wait_for_unit("tsdeploy-agent.service")
          machine.succeed("test ! -e ${tokenFile}")
          machine.wait_until_succeeds("curl -sf http://controller:5000/nix-cache-info")

  with subtest("web1 enrolls by approval: its request waits until an operator approves its key"):
      controller.wait_until_succeeds(enrollment_is("web1", "pending"), timeout=120)
      web1_key = web1.succeed("tsdeploy-agent pubkey --config /etc/tsdeploy/agent.json").strip()
      controller.succeed(f"tsdeploy-controller hosts approve web1 --key '{web1_key}' {admin}")
      controller.succeed(enrollment_is("web1", "enrolled"))

  with subtest("web2 enrolls with a one-time token written after it started"):
      token = controller.succeed(f"tsdeploy-controller tokens create --host web2 {admin}").strip()
      web2.succeed(f"install -m 0600 /dev/null ${tokenFile} && echo {token} > ${tokenFile}")
      web2.systemctl("restart tsdeploy-agent.service")
      controller.wait_until_succeeds(enrollment_is("web2", "enrolled"), timeout=120)

  with subtest("a switch is substituted from the controller's cache, confirmed, and becomes the profile"):
      for host, machine in agents.items():
          machine.fail(f"nix-store --check-validity {next_system[host]}")
      release = json.dumps({"hosts": next_system})
      controller.succeed(f"echo '{release}' > /tmp/release.json")
      publish("--release /tmp/release.json --activation switch")
      for host, machine in agents.items():
          controller.wait_until_succeeds(state_is(host, "in-sync"), timeout=600)
          # With probation the profile is set only after the health window: wait for the end state.
          machine.wait_until_succeeds(
              f"test $(readlink -f /nix/var/nix/profiles/system) = {next_system[host]}", timeout=300
          )
          on_system(machine, next_system[host])
          assert machine.succeed("curl -sf http://127.0.0.1/").strip() == "v2"

  with subtest("the agent restarts itself into the unit the new generation brings"):
      for machine in agents.values():
          new_config = resolved(machine, "/etc/tsdeploy/agent.json")
          machine.wait_until_succeeds(
              "tr '\\0' ' ' < /proc/$(systemctl show -P MainPID tsdeploy-agent.service)/cmdline"
              f" | grep -F -- '--config {new_config}'",
              timeout=120,
          )
          assert agent_config_running(machine) == new_config

  with subtest("the controller restarts and keeps its state; the agents reconnect"):
      controller.systemctl("restart tsdeploy-controller.service")
      controller.wait_for_unit("tsdeploy-controller.service")
      controller.wait_for_open_port(8080)
      for host in agents:
          controller.succeed(enrollment_is(host, "enrolled"))
          controller.wait_until_succeeds(state_is(host, "in-sync"), timeout=120)

  with subtest("an unhealthy generation is rolled back to the exact previous one"):
      publish(f"--host web2 --path {unhealthy_web2} --activation switch")
      controller.wait_until_succeeds(state_is("web2", "rolled-back"), timeout=600)
      web2.wait_until_succeeds(
          f"test $(readlink -f /run/current-system) = {next_system['web2']}", timeout=300
      )
      on_system(web2, next_system["web2"])
      assert web2.succeed("curl -sf http://127.0.0.1/").strip() == "v2"
      controller.succeed(state_is("web1", "in-sync"))

  with subtest("after a reboot, web1 runs the confirmed generation and its agent reports in sync"):
      web1.shutdown()
      web1.start()
      web1.wait_for_unit("multi-user.target")
      web1.wait_for_unit("tsdeploy-agent.service")
      on_system(web1, next_system["web1"])
      assert resolved(web1, "/run/booted-system") == next_system["web1"]
      assert web1.succeed("curl -sf http://127.0.0.1/").strip() == "v2"
      controller.wait_until_succeeds(state_is("web1", "in-sync"), timeout=300)
''
