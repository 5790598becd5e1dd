# A stand-in for nixpkgs' `pkgs` (no nixpkgs can be fetched here): only what nixos-module/ and the flake
# use, built as /bin/sh derivations. Its `tsdeploy` runs this checkout's TypeScript with the machine's
# node and tsx, so the modules' build-time config checks run the real check-config.
{
  lib,
  # This checkout, as a string so that it is not copied into the store.
  repo,
  # The machine's node binary and tsx's loader (a file: URL).
  node,
  tsxLoader,
  # Changes every test run, so the tsdeploy stand-in (which reads the checkout outside the store) is rebuilt.
  nonce,
  # The golden unit is rendered for x86_64-linux with a tsdeploy that depends on nothing of this
  # machine (never built), so its store paths are the same on every machine.
  system ? builtins.currentSystem,
  fixedTsdeploy ? false,
}:

let
  shellDerivation =
    name: script: env:
    derivation (
      {
        inherit name system;
        builder = "/bin/sh";
        args = [
          "-ec"
          script
        ];
        PATH = "/usr/local/bin:/usr/bin:/bin";
      }
      // env
    );

  emptyPackage = name: shellDerivation name ''mkdir -p "$out/bin"'' { };

  # The type nixpkgs' formats.json gives `settings`.
  jsonValue =
    let
      valueType =
        types.nullOr (
          types.oneOf [
            types.bool
            types.int
            types.float
            types.str
            types.path
            (types.attrsOf valueType)
            (types.listOf valueType)
          ]
        )
        // {
          description = "JSON value";
        };
      inherit (lib) types;
    in
    valueType;

  self = {
    inherit lib;

    formats.json =
      { }:
      {
        type = jsonValue;
        generate =
          name: value:
          shellDerivation name ''cp "$valuePath" "$out"'' {
            value = builtins.toJSON value;
            passAsFile = [ "value" ];
          };
      };

    runCommand = name: env: buildCommand: shellDerivation name buildCommand env;

    callPackage =
      fn: overrides:
      let
        f = if lib.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (lib.functionArgs f) self // overrides);

    stdenv.hostPlatform = { inherit system; };

    systemd = emptyPackage "systemd-stand-in";
    nix = emptyPackage "nix-stand-in";
    nodejs = emptyPackage "nodejs-stand-in";
    coreutils = emptyPackage "coreutils-stand-in";
    findutils = emptyPackage "findutils-stand-in";
    gnugrep = emptyPackage "gnugrep-stand-in";
    gnused = emptyPackage "gnused-stand-in";
    versionCheckHook = emptyPackage "versionCheckHook-stand-in";

    tsdeploy =
      if fixedTsdeploy then
        shellDerivation "tsdeploy-0.1.0" "exit 1" { }
      else
        shellDerivation "tsdeploy-stand-in"
        ''
          mkdir -p "$out/bin"
          for program in agent controller; do
            printf '#!/bin/sh\nexec %s --import %s %s/%s/main.ts "$@"\n' "$node" "$tsxLoader" "$repo" "$program" >"$out/bin/tsdeploy-$program"
            chmod +x "$out/bin/tsdeploy-$program"
          done
        ''
        {
          inherit
            repo
            node
            tsxLoader
            nonce
            ;
        };

    # buildNpmPackage and importNpmLock stand-ins return what package.nix gives them, for the test to read.
    buildNpmPackage = args: {
      type = "derivation";
      name = "${args.pname}-${args.version}";
      outPath = "/nix/store/00000000000000000000000000000000-buildNpmPackage-stand-in";
      buildNpmPackageArgs = args;
    };
    importNpmLock =
      let
        importNpmLockStandIn = args: { importNpmLockArgs = args; };
      in
      {
        __functor = _: importNpmLockStandIn;
        npmConfigHook = "importNpmLock.npmConfigHook-stand-in";
      };
  };
in
self
