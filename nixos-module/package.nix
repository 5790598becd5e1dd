# The tsdeploy package: tsdeploy-agent and tsdeploy-controller, built from this repository with buildNpmPackage.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs,
  versionCheckHook,
}:

let
  root = ../.;
  packageJson = lib.importJSON (root + "/package.json");

  # Only what `npm run build` reads, so a change to tests, docs or Nix files does not rebuild the
  # package. A filter rather than lib.fileset: lib.fileset needs Nix 2.14, and the module test
  # evaluates this file with the Nix 2.8 of the CI machines.
  src = lib.cleanSourceWith {
    name = "tsdeploy-source";
    src = root;
    filter =
      path: _type:
      let
        relative = lib.removePrefix (toString root + "/") (toString path);
        top = lib.head (lib.splitString "/" relative);
      in
      lib.elem relative [
        "package.json"
        "package-lock.json"
        "tsconfig.json"
        "tsconfig.build.json"
      ]
      || (
        lib.elem top [
          "agent"
          "controller"
          "shared"
        ]
        && !lib.hasSuffix ".test.ts" relative
      );
  };

  # The lock file is written without `resolved` URLs (npm's omit-lockfile-registry-resolved), and
  # importNpmLock fetches each package from its `resolved` URL (checked against `integrity`), so
  # registry packages get back the tarball URL npm itself would use.
  registryTarball =
    key: module:
    let
      name = module.name or (lib.last (lib.splitString "node_modules/" key));
      baseName = lib.last (lib.splitString "/" name);
    in
    "https://registry.npmjs.org/${name}/-/${baseName}-${module.version}.tgz";

  lock = lib.importJSON (root + "/package-lock.json");

  # esbuild comes in only with tsx, which the tests use and the build never runs (the build is tsc
  # alone). Its 26 platform binaries (@esbuild/linux-x64, @esbuild/darwin-arm64, …) are optional
  # dependencies of esbuild: their entries are dropped from the lock importNpmLock reads, and esbuild's
  # own entry loses its optionalDependencies, so npm neither fetches them nor asks for them (offline,
  # as npmConfigHook runs it). esbuild's install script, the one thing that would look for a binary,
  # never runs: dependencies are installed with --ignore-scripts.
  isEsbuildPlatformBinary = key: lib.hasPrefix "node_modules/@esbuild/" key;

  packageLock = lock // {
    packages = lib.mapAttrs (
      key: module:
      let
        withoutBinaries =
          if key == "node_modules/esbuild" then removeAttrs module [ "optionalDependencies" ] else module;
      in
      if key == "" || module ? resolved || (module.link or false) || !(module ? integrity) then
        withoutBinaries
      else
        withoutBinaries // { resolved = registryTarball key module; }
    ) (lib.filterAttrs (key: _: !isEsbuildPlatformBinary key) lock.packages);
  };
in
buildNpmPackage {
  pname = packageJson.name;
  inherit (packageJson) version;
  inherit src nodejs;

  npmDeps = importNpmLock {
    npmRoot = src;
    package = packageJson;
    inherit packageLock;
  };
  npmConfigHook = importNpmLock.npmConfigHook;

  # No dependency needs an install script: tsc is plain JavaScript, and esbuild (with its
  # postinstall) only comes in with tsx, which the tests use and the package does not.
  npmRebuildFlags = [ "--ignore-scripts" ];

  # npmInstallHook wraps every `bin` of package.json with this nodejs: both programs land in $out/bin.
  # versionCheckHook runs `tsdeploy-agent --version` in an empty environment and looks for `version`.
  doInstallCheck = true;
  nativeInstallCheckInputs = [ versionCheckHook ];
  versionCheckProgram = "${placeholder "out"}/bin/tsdeploy-agent";
  versionCheckProgramArg = "--version";
  installCheckPhase = ''
    runHook preInstallCheck
    $out/bin/tsdeploy-controller --version | grep -F "$version" >/dev/null
    $out/bin/tsdeploy-agent --help >/dev/null
    $out/bin/tsdeploy-controller --help >/dev/null
    runHook postInstallCheck
  '';

  meta = {
    inherit (packageJson) description;
    # package.json names no homepage yet; this is the address the README's flake example uses.
    homepage = packageJson.homepage or "https://git.example.org/tsdeploy";
    license = lib.licenses.mit;
    mainProgram = "tsdeploy-agent";
    maintainers = [ ];
    platforms = lib.platforms.linux;
  };
}
