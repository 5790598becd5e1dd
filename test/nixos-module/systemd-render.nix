# How NixOS types and renders a systemd service, written for the module test after nixos/lib/systemd-lib.nix
# and systemd-unit-options.nix (the same types, checks and text; not their code).
{ lib }:

let
  inherit (lib) types;

  # Definitions may still be wrapped in mkIf or mkOverride when a check runs on them.
  unwrap =
    value:
    if lib.elem (value._type or "") [
      "if"
      "override"
    ] then
      value.content
    else
      value;

  oneOfOrAbsent =
    name: allowed: attrs:
    !(attrs ? ${name}) || lib.elem (unwrap attrs.${name}) allowed;

  # `true`/`false` for booleans, toString for the rest (paths and packages become store paths).
  toOption =
    value:
    if value == true then
      "true"
    else if value == false then
      "false"
    else
      toString value;

  # `Key=value` lines in attribute-name order, a list giving one line per element.
  attrsToSection =
    attrs:
    lib.concatStrings (
      lib.concatLists (
        lib.mapAttrsToList (name: value: map (item: "${name}=${toOption item}\n") (lib.toList value)) attrs
      )
    );

  # What NixOS adds to [Unit] from a service's typed options.
  derivedUnitConfig =
    service:
    let
      joined =
        key: option: lib.optionalAttrs (service.${option} != [ ]) { ${key} = toString service.${option}; };
    in
    joined "Requires" "requires"
    // joined "Wants" "wants"
    // joined "After" "after"
    // joined "Before" "before"
    // joined "BindsTo" "bindsTo"
    // joined "PartOf" "partOf"
    // joined "Conflicts" "conflicts"
    // joined "Requisite" "requisite"
    // lib.optionalAttrs (service.description != "") { Description = service.description; }
    // joined "Documentation" "documentation"
    // joined "OnFailure" "onFailure"
    // joined "OnSuccess" "onSuccess";
in
{
  # A unit name with its type suffix: `multi-user.target`, not `multi-user`.
  unitNameType = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";

  # A value of a [Unit] or [Service] key: list definitions are concatenated (repeated keys), any
  # other value must be defined once (or identically).
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge =
      loc: defs:
      let
        defs' = lib.filterOverrides defs;
      in
      if lib.isList (lib.head defs').value then
        lib.concatMap (
          def:
          if lib.isList def.value then
            def.value
          else
            throw "The definitions of ${lib.showOption loc} mix lists (repeated keys) and single values."
        ) defs'
      else
        lib.mergeEqualOption loc defs';
  };

  # systemd's Type= and Restart= take only these values; anything else fails the type check.
  checkService =
    attrs:
    oneOfOrAbsent "Type" [
      "exec"
      "simple"
      "forking"
      "oneshot"
      "dbus"
      "notify"
      "notify-reload"
      "idle"
    ] attrs
    && oneOfOrAbsent "Restart" [
      "no"
      "on-success"
      "on-failure"
      "on-abnormal"
      "on-abort"
      "always"
    ] attrs;

  # The text of `<name>.service`: [Unit], [Service] (Environment= lines first, JSON-quoted, then the
  # switch-to-configuration markers, then serviceConfig) and, with wantedBy, [Install].
  serviceText =
    { globalEnvironment }:
    service:
    let
      environment = globalEnvironment // service.environment;
      environmentLines = lib.concatMapStrings (
        name:
        lib.optionalString (
          environment.${name} != null
        ) "Environment=${builtins.toJSON "${name}=${environment.${name}}"}\n"
      ) (lib.attrNames environment);
      markers =
        (
          if service.reloadIfChanged then
            "X-ReloadIfChanged=true\n"
          else
            lib.optionalString (!service.restartIfChanged) "X-RestartIfChanged=false\n"
        )
        + lib.optionalString (!service.stopIfChanged) "X-StopIfChanged=false\n";
    in
    "[Unit]\n"
    + attrsToSection (derivedUnitConfig service // service.unitConfig)
    + "\n[Service]\n"
    + environmentLines
    + markers
    + attrsToSection service.serviceConfig
    + lib.optionalString (service.wantedBy != [ ]) "\n[Install]\nWantedBy=${lib.concatStringsSep " " service.wantedBy}\n";
}
