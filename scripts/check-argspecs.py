"""Fail when a role's defaults/main.yml, meta/argument_specs.yml and README.md disagree.

Every default must be documented in the `main` entry point with the same default value,
every documented option that has a default must be in defaults/main.yml, and the role's
README must name every option.
"""
import sys
from pathlib import Path

import yaml


def check_role(role):
    defaults_file = role / "defaults" / "main.yml"
    spec_file = role / "meta" / "argument_specs.yml"
    if not spec_file.exists():
        return ["%s: meta/argument_specs.yml is missing" % role.name]
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    defaults = defaults or {}
    spec = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"].get("options", {})
    problems = []
    prefix = role.name + "_"
    for name, value in defaults.items():
        if not name.startswith(prefix):
            problems.append("%s: default %s lacks the role prefix %r" % (role.name, name, prefix))
        if name not in spec:
            problems.append("%s: default %s is not in meta/argument_specs.yml" % (role.name, name))
        elif spec[name].get("default") != value:
            problems.append("%s: %s defaults to %r but the spec says %r"
                            % (role.name, name, value, spec[name].get("default")))
    for name, option in spec.items():
        if name not in defaults and not option.get("required"):
            problems.append("%s: %s is in the spec but has no default in defaults/main.yml"
                            % (role.name, name))
    readme = role / "README.md"
    text = readme.read_text() if readme.exists() else ""
    if not text:
        problems.append("%s: README.md is missing" % role.name)
    else:
        problems.extend("%s: README.md does not mention %s" % (role.name, name)
                        for name in spec if "`%s`" % name not in text)
    return problems


def main(argv):
    roles_dir = Path(argv[1] if len(argv) > 1 else "roles")
    roles = sorted(p for p in roles_dir.iterdir() if (p / "tasks").is_dir())
    problems = [p for role in roles for p in check_role(role)]
    for problem in problems:
        print("ERROR: " + problem)
    print("checked %d roles: %s" % (len(roles), "FAILED" if problems else "defaults and specs agree"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
