"""The inventories' checks in `make lint`; exits 1 naming each problem.

- Drift: staging and production set the same variable names in each group (in hosts.yml, on the
  group or its hosts, in group_vars and host_vars; host names, addresses and values may differ),
  and their vault examples (inventories/examples/<env>.vault.example.yml) name the same secrets.
  Every vault_* variable an environment's settings use must be named in its example.
- Vault files: every vault*.yml (or .yaml, .json, no extension) under inventories/, git-ignored
  or not, is encrypted with ansible-vault; the *.example.* files are the exception.
- Secrets in plain text: detect-secrets scans every file under inventories/ (git-ignored ones too)
  and every file git tracks or would track; a finding fails unless .secrets.baseline accepts it,
  which it never does under inventories/ (a fake value there must look fake, or carry an inline
  `pragma: allowlist secret` comment saying why).

  scripts/check-inventories.py [--root DIR]      the checks
  scripts/check-inventories.py --update-baseline  accept today's findings outside inventories/
                                                  (review them first: git diff .secrets.baseline)
"""
import argparse
import contextlib
import os
import re
import subprocess
import sys

import yaml

try:
    from detect_secrets.core import baseline as secrets_baseline
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings, get_settings
except ImportError:  # the other checks still run, and this one says what is missing
    secrets_baseline = None

ENVIRONMENTS = ("staging", "production")
INVENTORIES = "inventories"
BASELINE = ".secrets.baseline"
# vault, vault.yml, vault-extra.yaml, vault.json; not vault.example.yml.
VAULT_NAME = re.compile(r"^vault[^.]*(\.ya?ml|\.json)?$")
VAULT_REFERENCE = re.compile(r"\bvault_[A-Za-z0-9_]+")
VARS_EXTENSIONS = ("", ".yml", ".yaml", ".json")


class _Loader(yaml.SafeLoader):
    """Reads Ansible's !unsafe and !vault values as the text they hold."""


def _tagged(loader, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_Loader.add_constructor("!unsafe", _tagged)
_Loader.add_constructor("!vault", _tagged)


def is_vault_file(path):
    return bool(VAULT_NAME.match(os.path.basename(path)))


def is_encrypted(path):
    with open(path, "rb") as handle:
        return handle.read(14) == b"$ANSIBLE_VAULT"


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader) or {}


def strings(value):
    """Every string inside a loaded YAML value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


class Environment:
    """The variable names an inventory directory sets, per group, with where each is set."""

    def __init__(self, root, name):
        self.name = name
        self.root = root
        self.path = os.path.join(root, INVENTORIES, name)
        self.rel = os.path.join(INVENTORIES, name)
        self.example = os.path.join(root, INVENTORIES, "examples", name + ".vault.example.yml")
        self.group_vars = {}    # group: {name: where}
        self.host_vars = {}     # host: {name: where}
        self.members = {}       # group: {host}
        self.children = {}      # group: {group}
        self.references = {}    # vault_* name: where it is used
        self._read_hosts()
        self._read_vars_dir("group_vars", self.group_vars)
        self._read_vars_dir("host_vars", self.host_vars)

    def _note(self, table, key, data, where):
        names = table.setdefault(key, {})
        for name in data or {}:
            names.setdefault(name, where)
        for text in strings(data or {}):
            for reference in VAULT_REFERENCE.findall(text):
                self.references.setdefault(reference, where)

    def _read_hosts(self):
        path = os.path.join(self.path, "hosts.yml")
        if not os.path.isfile(path):
            raise SystemExit("ERROR: %s/hosts.yml is missing" % self.rel)
        where = self.rel + "/hosts.yml"
        data = load_yaml(path)
        if "all" not in data:
            data = {"all": {"children": data}}

        def walk(group, node):
            node = node or {}
            self.members.setdefault(group, set())
            self.children.setdefault(group, set())
            self._note(self.group_vars, group, node.get("vars"), where)
            for host, host_data in (node.get("hosts") or {}).items():
                self.members[group].add(host)
                self._note(self.host_vars, host, host_data, where + " (host %s)" % host)
            for child, child_node in (node.get("children") or {}).items():
                self.children[group].add(child)
                walk(child, child_node)

        walk("all", data["all"])

    def _read_vars_dir(self, kind, table):
        top = os.path.join(self.path, kind)
        if not os.path.isdir(top):
            return
        for entry in sorted(os.listdir(top)):
            key, ext = os.path.splitext(entry)
            full = os.path.join(top, entry)
            if os.path.isdir(full):
                key, files = entry, sorted(
                    os.path.join(d, f) for d, _subdirs, fs in os.walk(full, followlinks=True) for f in fs)
            elif ext in VARS_EXTENSIONS:
                files = [full]
            else:
                continue
            table.setdefault(key, {})
            # Vault files are encrypted: their names are compared through the vault examples.
            for path in (f for f in files if not is_vault_file(f) and not os.path.basename(f).startswith(".")):
                self._note(table, key, load_yaml(path), os.path.relpath(path, self.root))

    def hosts_of(self, group):
        hosts = set(self.members.get(group, ()))
        for child in self.children.get(group, ()):
            hosts |= self.hosts_of(child)
        if group == "all":
            hosts |= set(self.host_vars)
        return hosts

    def groups(self):
        return (set(self.members) | set(self.group_vars)) - {"ungrouped"}

    def names(self, group):
        """{variable name: where it is set} for a group: its own and its hosts' variables."""
        names = dict(self.group_vars.get(group, {}))
        for host in sorted(self.hosts_of(group)):
            for name, where in self.host_vars.get(host, {}).items():
                names.setdefault(name, where)
        return names

    def example_names(self):
        return set(load_yaml(self.example)) if os.path.isfile(self.example) else None


def check_drift(root):
    first, second = (Environment(root, name) for name in ENVIRONMENTS)
    problems = []
    for env, other in ((first, second), (second, first)):
        for group in sorted(env.groups() - other.groups()):
            problems.append("%s lacks group %s, which %s has" % (other.name, group, env.name))
    for group in sorted(first.groups() & second.groups()):
        for env, other in ((first, second), (second, first)):
            names, other_names = env.names(group), other.names(group)
            for name in sorted(set(names) - set(other_names)):
                problems.append("%s lacks %s (group %s), which %s sets in %s"
                                % (other.name, name, group, env.name, names[name]))
    examples = {env.name: env.example_names() for env in (first, second)}
    for env in (first, second):
        if examples[env.name] is None:
            problems.append("%s is missing: it names the secrets of %s"
                            % (os.path.relpath(env.example, root), env.name))
    if None not in examples.values():
        for env, other in ((first, second), (second, first)):
            for name in sorted(examples[env.name] - examples[other.name]):
                problems.append("%s's vault example lacks %s, which %s's names"
                                % (other.name, name, env.name))
    return problems


def check_vault_references(root):
    """Every vault_* variable an environment's settings use is named in its vault example."""
    problems = []
    top = os.path.join(root, INVENTORIES)
    for name in sorted(os.listdir(top)):
        if not os.path.isfile(os.path.join(top, name, "hosts.yml")):
            continue
        env = Environment(root, name)
        known = env.example_names()
        if known is None:
            problems.append("%s is missing: it names the secrets of %s"
                            % (os.path.relpath(env.example, root), name))
            continue
        for reference in sorted(set(env.references) - known):
            problems.append("%s uses %s (%s), which %s does not name"
                            % (name, reference, env.references[reference], os.path.relpath(env.example, root)))
    return problems


def inventory_files(root):
    """Every file under inventories/, git-ignored ones included, symlinks by their target."""
    found = set()
    for directory, _subdirs, files in os.walk(os.path.join(root, INVENTORIES)):
        for name in files:
            path = os.path.realpath(os.path.join(directory, name))
            if os.path.isfile(path):
                found.add(os.path.relpath(path, root))
    return found


def check_vault_files(root):
    problems = []
    for directory, _subdirs, files in sorted(os.walk(os.path.join(root, INVENTORIES))):
        for name in sorted(files):
            path = os.path.join(directory, name)
            if is_vault_file(name) and os.path.isfile(path) and not is_encrypted(path):
                rel = os.path.relpath(path, root)
                problems.append("%s is not encrypted: ansible-vault encrypt --vault-password-file <file> %s" % (rel, rel))
    return problems


def tree_files(root):
    """The files git tracks or would track (not ignored), inventories/ aside."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit("ERROR: the secret scan lists the files git tracks, and git failed in %s: %s" % (root, exc))
    files = set()
    for name in out.decode().split("\0"):
        if name and name != BASELINE and not name.startswith(INVENTORIES + "/") \
                and os.path.isfile(os.path.join(root, name)) and not os.path.islink(os.path.join(root, name)):
            files.add(name)
    return files


@contextlib.contextmanager
def detector_settings(root):
    """The baseline's detectors and accepted findings (detect-secrets' defaults without one)."""
    if secrets_baseline is None:
        raise SystemExit("ERROR: detect-secrets is missing: pip install -r requirements-dev.txt (make venv)")
    path = os.path.join(root, BASELINE)
    with default_settings():
        accepted = (secrets_baseline.load(secrets_baseline.load_from_file(path), BASELINE)
                    if os.path.isfile(path) else SecretsCollection())
        if not get_settings().plugins:
            raise SystemExit("ERROR: %s enables no detector: remove it and run %s --update-baseline" % (BASELINE, sys.argv[0]))
        yield accepted


def scan(files):
    """Findings in these files (paths relative to the working directory, the root)."""
    found = SecretsCollection()
    found.scan_files(*sorted(files))
    return found


def check_secrets(root):
    with detector_settings(root) as accepted:
        found = scan(tree_files(root) | inventory_files(root))
    for name in list(accepted.files):
        if name.startswith(INVENTORIES + "/"):
            del accepted.data[name]
    problems = []
    for filename, secret in sorted(found - accepted, key=lambda item: (item[0], item[1].line_number)):
        where = "move it into the environment's vault.yml (encrypted)" if filename.startswith(INVENTORIES + "/") \
            else "move it out of the tree, or accept a fake one: %s --update-baseline" % sys.argv[0]
        problems.append("%s:%d: a secret-looking value in plain text (%s): %s"
                        % (filename, secret.line_number, secret.type, where))
    return problems


def update_baseline(root):
    with detector_settings(root) as accepted:
        found = scan(tree_files(root))
        found.merge(accepted)  # keeps the labels of findings already audited
        secrets_baseline.save_to_file(found, os.path.join(root, BASELINE))
    print("%s: %d accepted findings in %d files" % (BASELINE, len(list(found)), len(found.files)))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--update-baseline", action="store_true")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    os.chdir(root)
    if args.update_baseline:
        update_baseline(root)
        return 0
    checks = (("%s and %s agree in variable names" % ENVIRONMENTS, check_drift),
              ("every vault_* variable in use is in its environment's vault example", check_vault_references),
              ("every vault file under inventories/ is encrypted", check_vault_files),
              ("no secret-looking value in plain text", check_secrets))
    failed = False
    for title, check in checks:
        problems = check(root)
        for problem in problems:
            print("ERROR: " + problem)
        print("%s: %s" % ("FAILED" if problems else "ok", title))
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
