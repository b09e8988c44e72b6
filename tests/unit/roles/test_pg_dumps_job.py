# roles/pg_dumps' scheduled job with stand-ins for pg_dump, pg_restore and psql on PATH (real
# processes writing real files); the real tools run in the pg_dumps molecule scenario.
from __future__ import annotations

import importlib.util
import json
import os
import stat

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
JOB = os.path.join(HERE, "..", "..", "..", "roles", "pg_dumps", "files", "pg_dumps_job.py")
COLLECTIONS = os.path.join(HERE, "..", "..", "..", ".collections")


def load_job():
    spec = importlib.util.spec_from_file_location("pg_dumps_job", JOB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_tools(bin_dir, rows=3, answer="t"):
    scripts = {
        "pg_dump": '[ "$1" = --version ] && { echo "pg_dump (PostgreSQL) 17.6"; exit 0; }\n'
                   'while [ "$1" != --file ]; do shift; done; echo "PGDMP $$" > "$2"\n',
        "pg_restore": 'echo "1; 2 TABLE DATA app beacons"\n',
        "createdb": "exit 0\n",
        "dropdb": "exit 0\n",
        "psql": 'case "$*" in *server_version*) echo 17.6;; *"FROM information_schema"*) ;;\n'
                '  *"SELECT has_rows"*) echo %s;; *) echo "app.beacons|%d";; esac\n' % (answer, rows),
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_tools(bin_dir)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    config = {"lib": COLLECTIONS, "databases": ["shop"], "dest": str(tmp_path / "dumps"), "label": "daily",
              "format": "custom", "compression": 6, "jobs": 1, "keep_last": 2, "keep_daily": 0, "keep_weekly": 0,
              "keep_monthly": 0, "verify_query": "SELECT has_rows", "verify_max": 3,
              "status_file": str(tmp_path / "status.json"), "max_backup_age_hours": 26, "max_verify_age_hours": 50}
    path = tmp_path / "pg-dumps.json"
    path.write_text(json.dumps(config))
    return load_job(), str(path), config, bin_dir


def status(config):
    return json.loads(open(config["status_file"]).read())


def test_dump_prunes_by_policy_and_verify_proves_the_newest(setup, capsys):
    job, path, config, _bin = setup
    assert job.main(["--config", path, "status"]) == 0
    first = status(config)
    assert first["ok"] is False and first["problems"] == ["shop: no backup in %s" % config["dest"],
                                                          "shop: no backup has been verified by a restore"]
    names = []
    for _round in range(3):
        assert job.main(["--config", path, "dump"]) == 0
        names.append(status(config)["dump"]["databases"]["shop"]["name"])
    after = status(config)
    # keep_last 2: the third dump removed the first; a dump alone is not yet proved.
    assert after["dump"]["databases"]["shop"]["pruned"] == [names[0]]
    assert sorted(f for f in os.listdir(config["dest"]) if f.endswith(".json")) == sorted(n + ".json" for n in names[1:])
    assert after["ok"] is False and after["databases"]["shop"]["latest_backup"]["name"] == names[2]
    assert job.main(["--config", path, "verify"]) == 0
    done = status(config)
    verified = [e["name"] for e in done["verify"]["databases"]["shop"]]
    assert verified == [names[2], names[1]]  # the newest, then the older unverified one
    assert done["ok"] is True and done["problems"] == []
    latest = done["databases"]["shop"]["latest_verification"]
    assert latest["name"] in names and 0 <= latest["age_s"] < 60
    assert '"ok": true' in capsys.readouterr().out


def test_a_corrupted_dump_or_a_false_query_fails_the_verification(setup):
    job, path, config, bin_dir = setup
    assert job.main(["--config", path, "dump"]) == 0
    newest = status(config)["dump"]["databases"]["shop"]["name"]
    with open(os.path.join(config["dest"], newest + ".dump"), "a") as handle:
        handle.write("flipped")
    assert job.main(["--config", path, "verify"]) == 1
    broken = status(config)
    assert broken["ok"] is False
    assert any("the last verify failed for %s" % newest in p and "corrupted" in p for p in broken["problems"])
    # It stays a problem, verified again every run, until it is removed (or pruned).
    assert job.main(["--config", path, "verify"]) == 1
    for suffix in (".dump", ".json"):
        os.unlink(os.path.join(config["dest"], newest + suffix))
    assert job.main(["--config", path, "dump"]) == 0
    fake_tools(bin_dir, answer="f")
    assert job.main(["--config", path, "verify"]) == 1
    assert any("verify_query answered 'f'" in p for p in status(config)["problems"])
    fake_tools(bin_dir)
    assert job.main(["--config", path, "verify"]) == 0
    assert status(config)["ok"] is True


def test_old_backups_and_stale_verifications_are_problems(setup):
    job, path, config, _bin = setup
    assert job.main(["--config", path, "dump"]) == 0
    assert job.main(["--config", path, "verify"]) == 0
    config.update(max_backup_age_hours=0, max_verify_age_hours=0)
    with open(path, "w") as handle:
        json.dump(config, handle)
    later = job.Job(job.load_config(path), now=lambda: __import__("time").time() + 7200)
    later.refresh()
    problems = status(config)["problems"]
    assert any("the newest backup is 2.0 h old (more than 0 h)" in p for p in problems)
    assert any("the last successful verification is 2.0 h old" in p for p in problems)
