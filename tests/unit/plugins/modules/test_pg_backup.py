# pg_backup through main() with faked PostgreSQL tools writing real files.
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _pg_backup
from ansible_collections.boosterbeacon.infra.plugins.modules import pg_backup

COUNTS = "app.beacons|3\napp.pgmigrations|2\n"


def install_fakes(fake_commands, counts=COUNTS, toc="1; 2 TABLE DATA app beacons\n"):
    def pg_dump(argv):
        if argv[-1] == "--version":
            return 0, "pg_dump (PostgreSQL) 17.6\n", ""
        path = argv[argv.index("--file") + 1]
        with open(path, "wb") as handle:
            handle.write(b"PGDMP fake dump " + argv[-1].encode())
        return 0, "", ""

    def psql(argv):
        sql = argv[-1]
        if sql == "SHOW server_version":
            return 0, "17.6\n", ""
        if "information_schema.tables" in sql:
            return 0, "app\n", ""
        if "FROM \"app\".\"pgmigrations\"" in sql:
            return 0, "0001\n0002\n", ""
        if "pg_database" in sql:
            return 0, ("1\n" if "'shop'" in sql else ""), ""
        return 0, counts, ""

    fake_commands.table[("pg_dump",)] = pg_dump
    fake_commands.table[("psql",)] = psql
    fake_commands.table[("pg_restore", "--list")] = (0, toc, "")
    fake_commands.table[("pg_restore",)] = (0, "", "")
    fake_commands.table[("createdb",)] = (0, "", "")
    fake_commands.table[("dropdb",)] = (0, "", "")


def dump(run_module, tmp_path, **kw):
    args = dict(state="dump", database="shop", dest=str(tmp_path), label="pre-migration r1")
    args.update(kw)
    return run_module(pg_backup, args)


def test_dump_writes_file_checksum_and_manifest(run_module, fake_commands, tmp_path):
    install_fakes(fake_commands)
    result = dump(run_module, tmp_path, login_password="pw-secret-123", login_host="127.0.0.1")
    assert result["changed"] is True
    assert os.path.basename(result["path"]).startswith("shop-") and result["path"].endswith("-pre-migration-r1.dump")
    manifest = json.loads(open(result["manifest_path"]).read())
    assert manifest["tables"] == {"app.beacons": 3, "app.pgmigrations": 2}
    assert manifest["migrations"] == ["0001", "0002"]
    assert manifest["server_version"] == "17.6" and manifest["status"] == "dumped"
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".partial")]
    assert "pw-secret-123" not in json.dumps(result)
    assert all("pw-secret-123" not in " ".join(c) for c in fake_commands.calls)
    assert oct(os.stat(tmp_path).st_mode & 0o777) == "0o700"
    again = dump(run_module, tmp_path)
    assert again["path"] != result["path"] or again["name"].endswith("-2")


@pytest.fixture
def frozen(monkeypatch):
    """One second for every clock read, so a check run and a real run name the same dump."""
    monkeypatch.setattr(_pg_backup.PgBackup, "clock", lambda self: 1795564800.0)


def test_dump_check_mode_records_the_commands_a_dump_runs(run_module, fake_commands, tmp_path, frozen):
    install_fakes(fake_commands)
    args = dict(state="dump", database="shop", dest=str(tmp_path / "b"), compression=9)
    checked = run_module(pg_backup, args, check_mode=True)
    assert checked["changed"] is True and not (tmp_path / "b").exists()
    # Only reads ran: the facts the manifest records.
    assert [c[:1] + c[-1:] for c in fake_commands.calls if c[0] != "psql"] == [["pg_dump", "--version"]]
    partial = str(tmp_path / "b" / ".shop-20261125T000000Z.dump.partial")
    assert checked["commands"][-2:] == [
        "pg_dump --format custom --compress 9 --file %s shop" % partial, "pg_restore --list %s" % partial]
    fake_commands.calls.clear()
    real = run_module(pg_backup, args)
    assert real["commands"] == checked["commands"] and real["path"] == checked["path"]
    assert [c[0] for c in fake_commands.calls][-2:] == ["pg_dump", "pg_restore"]


def test_restore_check_mode_records_the_commands_a_restore_runs(run_module, fake_commands, tmp_path):
    install_fakes(fake_commands)
    made = dump(run_module, tmp_path)
    args = dict(state="restore", path=made["path"], dest=str(tmp_path), target="new", create=True)
    fake_commands.calls.clear()
    checked = run_module(pg_backup, args, check_mode=True)
    assert checked["changed"] is True and "tables" not in checked
    assert [c[0] for c in fake_commands.calls] == ["psql"]
    real = run_module(pg_backup, args)
    assert real["commands"] == checked["commands"]
    assert [c.split(" ")[0] for c in real["commands"]] == ["psql", "createdb", "pg_restore", "psql"]


def test_a_dump_without_table_data_is_rejected_and_cleaned_up(run_module, fake_commands, tmp_path):
    install_fakes(fake_commands, toc="; empty\n")
    result = dump(run_module, tmp_path)
    assert result["failed"] is True and "lists no table data" in result["msg"]
    assert os.listdir(tmp_path) == []


def test_jobs_need_directory_format(run_module):
    result = run_module(pg_backup, dict(state="dump", database="shop", jobs=4))
    assert result["failed"] is True and "format=directory" in result["msg"]


def test_verify_restores_into_scratch_and_marks_verified(run_module, fake_commands, tmp_path):
    install_fakes(fake_commands)
    made = dump(run_module, tmp_path)
    fake_commands.calls.clear()
    result = run_module(pg_backup, dict(state="verify", dest=str(tmp_path), path=made["path"]))
    assert result["ok"] is True and result["mismatches"] == []
    tools = [c[0] for c in fake_commands.calls]
    assert tools[0] == "pg_restore" and "createdb" in tools and tools[-1] == "dropdb"
    restore = [c for c in fake_commands.calls if c[0] == "pg_restore" and "--dbname" in c][0]
    assert "--single-transaction" in restore and "--exit-on-error" in restore
    assert json.loads(open(made["manifest_path"]).read())["status"] == "verified"


def test_verify_query_must_answer_true_on_the_restored_copy(run_module, fake_commands, tmp_path):
    install_fakes(fake_commands)
    made = dump(run_module, tmp_path)
    counts = fake_commands.table[("psql",)]
    answers = {"yes": "t\n", "no": "f\n"}

    def psql(argv):
        if argv[-1].startswith("SELECT count(*) > 0"):
            return 0, answers[argv[-1].rsplit(" ", 1)[-1]], ""
        return counts(argv)

    fake_commands.table[("psql",)] = psql
    fine = run_module(pg_backup, dict(state="verify", path=made["path"], verify_query="SELECT count(*) > 0 FROM yes"))
    assert fine["ok"] is True and fine["verify_query_answer"] == "t"
    query_call = [c for c in fake_commands.calls if c[-1].endswith("FROM yes")][0]
    assert query_call[query_call.index("-d") + 1] == fine["scratch_database"]
    fake_commands.calls.clear()
    bad = run_module(pg_backup, dict(state="verify", path=made["path"], verify_query="SELECT count(*) > 0 FROM no"))
    assert bad["failed"] is True and "verify_query answered 'f'" in bad["msg"]
    assert [c for c in fake_commands.calls if c[0] == "dropdb"]
    assert json.loads(open(made["manifest_path"]).read())["status"] == "verified"  # from the first run only


def test_verify_finds_the_manifest_beside_a_dump_outside_dest(run_module, fake_commands, tmp_path):
    # A dump kept elsewhere (copied off, or dumped with another dest) carries its manifest with it.
    install_fakes(fake_commands)
    made = dump(run_module, tmp_path / "elsewhere")
    result = run_module(pg_backup, dict(state="verify", dest=str(tmp_path / "default"), path=made["path"]))
    assert result.get("failed") is not True, result.get("msg")
    assert result["ok"] is True and result["path"] == made["path"]
    assert json.loads(open(made["manifest_path"]).read())["status"] == "verified"
    assert not (tmp_path / "default").exists()
    restored = run_module(pg_backup, dict(state="restore", dest=str(tmp_path / "default"), path=made["path"],
                                          target="shop_copy", create=True))
    assert restored.get("failed") is not True, restored.get("msg")
    # Moved with its manifest: the manifest now names the dump where it is.
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in (made["path"], made["manifest_path"]):
        os.rename(path, str(moved / os.path.basename(path)))
    path = str(moved / os.path.basename(made["path"]))
    again = run_module(pg_backup, dict(state="verify", dest=str(tmp_path / "default"), path=path))
    assert again.get("failed") is not True, again.get("msg")
    assert json.loads((moved / os.path.basename(made["manifest_path"])).read_text())["path"] == path
    # A manifest beside a file of another name is not taken for it.
    other = str(moved / "other.dump")
    os.rename(path, other)
    assert "beside it or in" in run_module(pg_backup, dict(state="verify", dest=str(moved), path=other))["msg"]


def test_verify_catches_corruption_and_count_mismatch(run_module, fake_commands, tmp_path):
    install_fakes(fake_commands)
    made = dump(run_module, tmp_path)
    with open(made["path"], "ab") as handle:
        handle.write(b"flip")
    result = run_module(pg_backup, dict(state="verify", dest=str(tmp_path)))
    assert result["failed"] is True and "corrupted" in result["msg"]
    install_fakes(fake_commands)
    made = dump(run_module, tmp_path, label="second")
    fake_commands.table[("psql",)] = lambda argv: (0, "app.beacons|2\napp.pgmigrations|2\n", "")
    result = run_module(pg_backup, dict(state="verify", dest=str(tmp_path), path=made["path"]))
    assert result["failed"] is True
    assert result["mismatches"] == [{"table": "app.beacons", "expected": 3, "actual": 2}]
    assert [c for c in fake_commands.calls if c[0] == "dropdb"]


def test_verify_missing_dump_file_and_unknown_path(run_module, fake_commands, tmp_path):
    install_fakes(fake_commands)
    made = dump(run_module, tmp_path)
    os.unlink(made["path"])
    assert "dump file is missing" in run_module(pg_backup, dict(state="verify", dest=str(tmp_path)))["msg"]
    assert "only restores or verifies its own" in run_module(
        pg_backup, dict(state="verify", dest=str(tmp_path), path="/tmp/other.dump"))["msg"]
    assert "Failed to find any backup" in run_module(
        pg_backup, dict(state="verify", dest=str(tmp_path / "none")))["msg"]


def test_restore_guards(run_module, fake_commands, tmp_path):
    install_fakes(fake_commands)
    made = dump(run_module, tmp_path)
    refused = run_module(pg_backup, dict(state="restore", dest=str(tmp_path), path=made["path"], target="shop"))
    assert refused["failed"] is True and "not empty (2 tables)" in refused["msg"]
    exists = run_module(pg_backup, dict(state="restore", dest=str(tmp_path), target="shop", create=True))
    assert "already exists" in exists["msg"]
    missing = run_module(pg_backup, dict(state="restore", dest=str(tmp_path), target="nope"))
    assert "Set create=true" in missing["msg"]
    fake_commands.calls.clear()
    created = run_module(pg_backup, dict(state="restore", dest=str(tmp_path), target="new", create=True, no_owner=True))
    assert created["tables"]["app.beacons"] == 3 and created["mismatches"] == []
    restore = [c for c in fake_commands.calls if c[0] == "pg_restore"][0]
    assert "--no-owner" in restore and ["createdb", "new"] in fake_commands.calls
    forced = run_module(pg_backup, dict(state="restore", dest=str(tmp_path), target="shop", force=True))
    assert forced["changed"] is True
    restore = [c for c in fake_commands.calls if c[0] == "pg_restore"][-1]
    assert "--clean" in restore and "--if-exists" in restore and "--single-transaction" not in restore
    # An existing database without tables (a fresh provision's, schemas only): force cleans too.
    fake_commands.table[("psql",)] = lambda argv: (0, "1\n" if "pg_database" in argv[-1] else "", "")
    empty = run_module(pg_backup, dict(state="restore", dest=str(tmp_path), target="shop", force=True))
    assert empty.get("failed") is not True, empty.get("msg")
    assert "--clean" in [c for c in fake_commands.calls if c[0] == "pg_restore"][-1]


def test_prune_and_list(run_module, fake_commands, tmp_path):
    install_fakes(fake_commands)
    names = [dump(run_module, tmp_path, label="n%d" % i)["name"] for i in range(3)]
    policy = dict(state="prune", dest=str(tmp_path), keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0)
    check = run_module(pg_backup, policy, check_mode=True)
    assert len(check["removed"]) == 2 and len(os.listdir(tmp_path)) == 6
    result = run_module(pg_backup, policy)
    assert sorted(result["removed"]) == sorted(check["removed"])
    listed = run_module(pg_backup, dict(state="query", dest=str(tmp_path), database="shop"))
    assert [b["name"] for b in listed["backups"]] == list(result["kept"]) and listed["changed"] is False
    assert listed["backups"][0]["name"] in names


def test_dump_as_the_database_owner_without_root(run_module, fake_commands, tmp_path):
    # A deploy account without root: no runuser, the owner's password and the CA in the environment only.
    install_fakes(fake_commands)
    result = dump(run_module, tmp_path / "deploys", login_host="db1.internal", login_user="shop_owner",
                  login_password="owner-secret-42", ssl_mode="verify-full", ssl_rootcert="/etc/ssl/ca.crt")
    assert result["changed"] is True and os.path.isfile(result["path"])
    assert fake_commands.calls and all(c[0] in ("psql", "pg_dump", "pg_restore") for c in fake_commands.calls)
    assert all("owner-secret-42" not in " ".join(c) for c in fake_commands.calls)
    assert "owner-secret-42" not in json.dumps(result)
    env = fake_commands.environs[0]
    assert (env["PGHOST"], env["PGUSER"], env["PGPASSWORD"]) == ("db1.internal", "shop_owner", "owner-secret-42")
    assert (env["PGSSLMODE"], env["PGSSLROOTCERT"]) == ("verify-full", "/etc/ssl/ca.crt")
    assert oct(os.stat(tmp_path / "deploys").st_mode & 0o777) == "0o700"
