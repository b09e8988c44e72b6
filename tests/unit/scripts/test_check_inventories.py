# The inventories' check of `make lint` (scripts/check-inventories.py) and the vault files'
# generator (scripts/env-secrets.sh), run as `make lint` runs them on a scratch copy of the
# inventories: each failure mode made on purpose, the exit status and the message asserted.
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
# Looks like a real password to the scanner: random letters and digits, nothing a filter drops.
# The tests plant it in scratch copies; here it is only their fake.
PLAIN_SECRET = "Vq8tZr2LmX4pKw9NcB7hJd3Fs6Gy1Ue5"  # pragma: allowlist secret


def make_recipe(target):
    """The command the Makefile runs for a target, and the targets `make lint` depends on."""
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^%s:[^\n]*\n\t([^\n]+)" % re.escape(target), text, re.M).group(1)
    lint = re.search(r"^lint:([^#\n]*)", text, re.M).group(1).split()
    return recipe, lint


@pytest.fixture
def tree(tmp_path):
    """The inventories, the scripts and the baseline in a git work tree of their own."""
    root = tmp_path / "tree"
    root.mkdir()
    # Not this checkout's own vault files (the examples are copied).
    shutil.copytree(ROOT / "inventories", root / "inventories", symlinks=True,
                    ignore=lambda d, names: {n for n in names if re.fullmatch(r"vault[^.]*\.ya?ml", n)})
    for name in ("scripts/check-inventories.py", "scripts/env-secrets.sh", "scripts/local-secrets.sh",
                 ".secrets.baseline", ".gitignore"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def lint(root):
    """scripts/check-inventories.py as `make lint` runs it ($(BIN)/python: this interpreter)."""
    argv = make_recipe("inventories")[0].split()
    assert argv[0] == "$(BIN)/python"
    result = subprocess.run([sys.executable] + argv[1:], cwd=root, capture_output=True, text=True, timeout=300,
                            check=False)
    return result.returncode, result.stdout + result.stderr


def env_secrets(root, *args):
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ["PATH"]))
    env.pop("ANSIBLE_VAULT_PASSWORD_FILE", None)
    return subprocess.run(["scripts/env-secrets.sh"] + list(args), cwd=root, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def vault_view(root, password_file, vault):
    return subprocess.run([str(BIN / "ansible-vault"), "view", "--vault-password-file", password_file, vault],
                          cwd=root, capture_output=True, text=True, check=True, timeout=60).stdout


def append(path, text):
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def test_make_lint_runs_the_check():
    recipe, lint_targets = make_recipe("inventories")
    assert "inventories" in lint_targets
    assert recipe == "$(BIN)/python scripts/check-inventories.py"


def test_the_inventories_as_committed_pass(tree):
    rc, out = lint(tree)
    assert rc == 0, out
    assert "ok: staging and production agree in variable names" in out
    assert "ok: no secret-looking value in plain text" in out


def test_a_variable_only_staging_sets_fails(tree):
    append(tree / "inventories/staging/group_vars/all/main.yml", "app_deploy_keep_releases: 3\n")
    rc, out = lint(tree)
    assert rc == 1
    assert ("ERROR: production lacks app_deploy_keep_releases (group all), which staging sets in "
            "inventories/staging/group_vars/all/main.yml") in out
    assert "FAILED: staging and production agree in variable names" in out


def test_a_host_variable_only_production_sets_fails(tree):
    hosts = tree / "inventories/production/hosts.yml"
    hosts.write_text(hosts.read_text().replace(
        "app-2.example.com: {ansible_host: 203.0.113.12,",
        "app-2.example.com: {app_deploy_instances: 2, ansible_host: 203.0.113.12,"))
    rc, out = lint(tree)
    assert rc == 1
    assert "ERROR: staging lacks app_deploy_instances (group app), which production sets in " \
           "inventories/production/hosts.yml (host app-2.example.com)" in out
    assert "ERROR: staging lacks app_deploy_instances (group all)" in out


def test_host_vars_and_group_vars_files_count(tree):
    host_vars = tree / "inventories/production/host_vars"
    host_vars.mkdir()
    (host_vars / "db-1.example.com.yml").write_text("---\npostgresql_memory_mb: 8192\n")
    (tree / "inventories/staging/group_vars/cache.yml").write_text("---\nredis_maxmemory_policy: noeviction\n")
    rc, out = lint(tree)
    assert rc == 1
    assert "ERROR: staging lacks postgresql_memory_mb (group db), which production sets in " \
           "inventories/production/host_vars/db-1.example.com.yml" in out
    assert "ERROR: production lacks redis_maxmemory_policy (group cache), which staging sets in " \
           "inventories/staging/group_vars/cache.yml" in out


def test_names_hosts_and_values_may_differ(tree):
    # Another host, other addresses and other values: the same variable names, so no drift.
    hosts = tree / "inventories/staging/hosts.yml"
    hosts.write_text(hosts.read_text().replace("app-2.staging.example.com", "app-9.staging.example.com")
                     .replace("10.20.0.12", "10.20.0.99"))
    main = tree / "inventories/staging/group_vars/all/main.yml"
    main.write_text(main.read_text().replace("redis_maxmemory: 256mb", "redis_maxmemory: 1gb"))
    rc, out = lint(tree)
    assert rc == 0, out


def test_a_group_only_one_environment_has_fails(tree):
    hosts = tree / "inventories/staging/hosts.yml"
    hosts.write_text(hosts.read_text() + "    backup:\n      hosts:\n        data-1.staging.example.com:\n")
    rc, out = lint(tree)
    assert rc == 1
    assert "ERROR: production lacks group backup, which staging has" in out


def test_vault_examples_naming_other_secrets_fail(tree):
    example = tree / "inventories/examples/production.vault.example.yml"
    text = example.read_text()
    example.unlink()
    example.write_text(text.replace('vault_redis_admin_password: "<generated>"\n', ""))
    rc, out = lint(tree)
    assert rc == 1
    assert "ERROR: production's vault example lacks vault_redis_admin_password, which staging's names" in out


def test_a_vault_variable_no_example_names_fails(tree):
    append(tree / "inventories/shared/all.yml", 'redis_extra_password: "{{ vault_redis_extra_password }}"\n')
    rc, out = lint(tree)
    assert rc == 1
    for env in ("staging", "production"):
        assert ("ERROR: %s uses vault_redis_extra_password (inventories/%s/group_vars/all/00-shared.yml), which "
                "inventories/examples/%s.vault.example.yml does not name" % (env, env, env)) in out


@pytest.mark.parametrize("vault", [
    "inventories/staging/group_vars/all/vault.yml",
    "inventories/local/group_vars/all/vault.yml",
    "inventories/production/host_vars/db-1.example.com/vault-backup.yml",
])
def test_an_unencrypted_vault_file_fails(tree, vault):
    path = tree / vault
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\nvault_postgresql_owner_password: %s\n" % PLAIN_SECRET)
    rc, out = lint(tree)
    assert rc == 1
    assert "ERROR: %s is not encrypted: ansible-vault encrypt --vault-password-file <file> %s" % (vault, vault) in out
    assert PLAIN_SECRET not in out


def test_a_plain_secret_in_an_inventory_fails_without_showing_it(tree):
    main = tree / "inventories/production/group_vars/all/main.yml"
    append(main, "redis_app_password: %s\n" % PLAIN_SECRET)
    line = len(main.read_text().splitlines())
    rc, out = lint(tree)
    assert rc == 1
    assert ("ERROR: inventories/production/group_vars/all/main.yml:%d: a secret-looking value in plain text "
            "(Secret Keyword): move it into the environment's vault.yml (encrypted)" % line) in out
    assert "FAILED: no secret-looking value in plain text" in out
    assert PLAIN_SECRET not in out


def test_the_baseline_accepts_findings_outside_inventories_only(tree):
    (tree / "docs").mkdir()
    (tree / "docs/example.md").write_text("postgresql_owner_password: %s\n" % PLAIN_SECRET)
    rc, out = lint(tree)
    assert rc == 1
    assert "ERROR: docs/example.md:1: a secret-looking value in plain text (Secret Keyword)" in out

    update = subprocess.run([sys.executable, "scripts/check-inventories.py", "--update-baseline"], cwd=tree,
                            capture_output=True, text=True, check=True, timeout=300)
    assert ".secrets.baseline:" in update.stdout
    assert "docs/example.md" in (tree / ".secrets.baseline").read_text()
    assert PLAIN_SECRET not in (tree / ".secrets.baseline").read_text()
    rc, out = lint(tree)
    assert rc == 0, out

    # The same value in an inventory is not accepted, baseline or not.
    append(tree / "inventories/staging/group_vars/all/main.yml", "postgresql_owner_password: %s\n" % PLAIN_SECRET)
    rc, out = lint(tree)
    assert rc == 1
    assert "ERROR: inventories/staging/group_vars/all/main.yml:" in out


def test_env_secrets_creates_completes_and_keeps(tree):
    vault = "inventories/staging/group_vars/all/vault.yml"
    result = env_secrets(tree, "staging")
    assert result.returncode == 0, result.stderr
    password_file = result.stdout.strip()
    assert password_file == ".secrets/staging-vault-password"
    assert (tree / vault).read_text().startswith("$ANSIBLE_VAULT;")
    first = vault_view(tree, password_file, vault)
    values = dict(line.split(": ", 1) for line in first.splitlines() if line.startswith("vault_"))
    example = (tree / "inventories/examples/staging.vault.example.yml").read_text()
    assert set(values) == set(re.findall(r"^(vault_\w+):", example, re.M))
    for name, value in values.items():
        if '"<generated>"' in re.search(r"^%s:.*$" % name, example, re.M).group(0):
            assert re.fullmatch(r"[A-Za-z0-9]{32}", value), name
        else:
            assert value == '""', name
            assert name in result.stderr  # named as still to fill in
    assert not any(marker in first for marker in ("{{", "{%", "{#"))
    assert len(set(values.values()) - {'""'}) == sum(1 for v in values.values() if v != '""')  # all distinct
    for value in values.values():
        assert value == '""' or value not in result.stdout + result.stderr

    # A secret added to the example is added; the values already there are kept.
    append(tree / "inventories/shared/vault.example.yml", 'vault_new_key: "<generated>"\n')
    result = env_secrets(tree, "staging")
    assert result.returncode == 0, result.stderr
    second = vault_view(tree, password_file, vault)
    assert second.startswith(first)
    assert re.search(r"^vault_new_key: [A-Za-z0-9]{32}$", second, re.M)

    # The environment's checks pass with the vault file it wrote.
    rc, out = lint(tree)
    assert rc == 0, out


def test_env_secrets_refuses_a_vault_without_its_password(tree):
    assert env_secrets(tree, "staging").returncode == 0
    os.unlink(tree / ".secrets/staging-vault-password")
    result = env_secrets(tree, "staging")
    assert result.returncode == 1
    assert "inventories/staging/group_vars/all/vault.yml exists but its vault password file " \
           ".secrets/staging-vault-password does not" in result.stderr


def test_env_secrets_needs_an_example(tree):
    result = env_secrets(tree, "qa")
    assert result.returncode == 1
    assert "inventories/examples/qa.vault.example.yml is missing" in result.stderr


def test_local_secrets_use_the_same_generator(tree):
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ["PATH"]))
    result = subprocess.run(["scripts/local-secrets.sh"], cwd=tree, capture_output=True, text=True, env=env,
                            timeout=120, check=True)
    assert result.stdout.strip() == ".secrets/local-vault-password"
    content = vault_view(tree, ".secrets/local-vault-password", "inventories/local/group_vars/all/vault.yml")
    example = (tree / "inventories/examples/local.vault.example.yml").read_text()
    for name in re.findall(r"^(vault_\w+):", example, re.M):
        assert re.search(r"^%s: [A-Za-z0-9]{32}$" % name, content, re.M), name
    assert (tree / ".secrets/local-ssh-key.pub").read_text().startswith("ssh-ed25519 ")


def test_a_baseline_listing_no_detectors_still_scans(tree):
    # Scanning with no detector would pass whatever the files hold: detect-secrets' defaults stay.
    baseline = tree / ".secrets.baseline"
    baseline.write_text(re.sub(r'"plugins_used": \[.*?\]', '"plugins_used": []', baseline.read_text(), flags=re.S))
    append(tree / "inventories/staging/group_vars/all/main.yml", "redis_app_password: %s\n" % PLAIN_SECRET)
    rc, out = lint(tree)
    assert rc == 1
    assert "ERROR: inventories/staging/group_vars/all/main.yml:" in out
