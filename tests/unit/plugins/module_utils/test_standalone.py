# The scheduled jobs' way of running a module's logic outside Ansible.
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import ModuleError
from ansible_collections.boosterbeacon.infra.plugins.module_utils._pg_backup import PgBackup
from ansible_collections.boosterbeacon.infra.plugins.module_utils._standalone import StandaloneModule, run_standalone
from ansible_collections.boosterbeacon.infra.plugins.modules.pg_backup import ARGUMENT_SPEC


def test_params_take_the_spec_defaults_and_reject_unknown_or_bad_values():
    module = StandaloneModule(ARGUMENT_SPEC, {"state": "prune", "keep_last": 3})
    assert module.params["keep_last"] == 3 and module.params["keep_daily"] == 7
    assert module.params["dest"] == "/var/backups/boosterbeacon/postgresql"
    assert module.check_mode is False and module._diff is False
    with pytest.raises(ModuleError, match="Unsupported parameters: keep_yearly"):
        StandaloneModule(ARGUMENT_SPEC, {"keep_yearly": 1})
    with pytest.raises(ModuleError, match="state must be one of"):
        StandaloneModule(ARGUMENT_SPEC, {"state": "drop"})


def test_run_command_matches_ansible_contract():
    rc, out, err = StandaloneModule.run_command(["sh", "-c", "cat; echo \"$X\" >&2; exit 3"], environ_update={"X": "x1"},
                                                data="in")
    assert (rc, out, err) == (3, "in\n", "x1\n")
    rc, out, _err = StandaloneModule.run_command(["cat"], data=b"raw", binary_data=True)
    assert (rc, out) == (0, "raw")
    rc, _out, err = StandaloneModule.run_command(["no-such-program-here"])
    assert rc == 2 and "no-such-program-here" in err


def _fake_tools(bin_dir):
    """pg_dump, pg_restore and psql stand-ins on PATH: real processes, no server."""
    scripts = {
        "pg_dump": '[ "$1" = --version ] && { echo "pg_dump (PostgreSQL) 17.6"; exit 0; }\n'
                   'while [ "$1" != --file ]; do shift; done; echo PGDMP > "$2"\n',
        "pg_restore": 'echo "1; 2 TABLE DATA app beacons"\n',
        "psql": 'case "$*" in *server_version*) echo 17.6;; *"FROM information_schema"*) ;; *) echo "app.beacons|3";; esac\n',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_pg_backup_logic_runs_a_real_dump_and_prune_without_ansible(tmp_path, monkeypatch):
    _fake_tools(tmp_path)
    monkeypatch.setenv("PATH", "%s:%s" % (tmp_path, os.environ["PATH"]))
    dest = str(tmp_path / "dumps")
    made = run_standalone(PgBackup, ARGUMENT_SPEC, {"state": "dump", "database": "shop", "dest": dest, "label": "daily"})
    assert made["changed"] is True and os.path.isfile(made["path"]) and made["tables"] == {"app.beacons": 3}
    assert made["commands"][-2].startswith("pg_dump --format custom")
    listed = run_standalone(PgBackup, ARGUMENT_SPEC, {"state": "query", "dest": dest})
    assert [b["name"] for b in listed["backups"]] == [made["name"]] and listed["backups"][0]["verified_at"] is None
    with pytest.raises(ModuleError, match="Failed to find any backup"):
        run_standalone(PgBackup, ARGUMENT_SPEC, {"state": "verify", "dest": str(tmp_path / "none")})
