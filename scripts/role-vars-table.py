"""Print the variables table of a role's README from its meta/argument_specs.yml.

    python scripts/role-vars-table.py roles/nginx
"""
import re
import sys
from pathlib import Path

import yaml


def cell(value):
    if value is None:
        return ""
    if isinstance(value, str):
        text = value if value else "''"
    else:
        text = yaml.safe_dump(value, default_flow_style=True, width=10000).strip()
        text = text.removesuffix("\n...").removesuffix("...").strip()
    return "`%s`" % text.replace("|", "\\|")


def main(role):
    spec = yaml.safe_load((Path(role) / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"].get("options", {})
    print("| Variable | Type | Default | Meaning |")
    print("|---|---|---|---|")
    for name, option in options.items():
        description = option.get("description", "")
        meaning = description if isinstance(description, str) else " ".join(description)
        meaning = re.sub(r"O\(([^)=]+)(=[^)]*)?\)", lambda m: "`%s%s`" % (m.group(1), m.group(2) or ""), meaning)
        meaning = re.sub(r"[CV]\(([^)]+)\)", r"`\1`", meaning)
        print("| `%s` | %s | %s | %s |" % (name, option.get("type", "str"), cell(option.get("default")),
                                           meaning.replace("|", "\\|")))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
