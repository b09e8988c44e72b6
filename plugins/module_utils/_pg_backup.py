# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL backups that are proven, not assumed: dumps written atomically with a checksum and a
manifest (server version, tables and row counts, migrations), verified by a real restore into a
scratch database, guarded restores, and retention that never drops the newest verified backup."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import hashlib
import os
import re
import shutil
import time
import uuid

from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import (
    ModuleError, chown, compact, iso, read_json, utc, write_json_atomic)
from ansible_collections.boosterbeacon.infra.plugins.module_utils._gate import Manager
from ansible_collections.boosterbeacon.infra.plugins.module_utils._postgres import libpq_environ
from ansible_collections.boosterbeacon.infra.plugins.module_utils._runner import Runner

# Exact row counts of every user table, one "schema.table|count" line each.
COUNTS_SQL = (
    "SELECT n.nspname || '.' || c.relname, "
    "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), "
    "false, true, '')))[1]::text "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1"
)
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


# Where verify() keeps verify_query's answer beside the row counts until it is checked.
QUERY_KEY = " verify_query"


def epoch_of(stamp):
    """Seconds since the epoch of an iso() time stamp."""
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text or "").strip("-").lower()[:60]


def backup_name(database, now, label=None):
    name = "%s-%s" % (database, compact(now))
    return name + ("-" + slug(label) if slug(label) else "")


def checksum(path):
    """sha256 of a dump file, or of a directory-format dump's files in name order."""
    digest = hashlib.sha256()
    files = [path] if os.path.isfile(path) else [os.path.join(path, f) for f in sorted(os.listdir(path))]
    for name in files:
        with open(name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def size_of(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def parse_counts(output):
    counts = {}
    for line in output.splitlines():
        if "|" in line:
            table, count = line.rsplit("|", 1)
            counts[table] = int(count)
    return counts


def compare_counts(expected, actual):
    return [{"table": t, "expected": expected.get(t), "actual": actual.get(t)}
            for t in sorted(set(expected) | set(actual)) if expected.get(t) != actual.get(t)]


def plan_retention(backups, now, keep_last=0, keep_daily=0, keep_weekly=0, keep_monthly=0):
    """Which backups to keep, with reasons: the newest keep_last; the newest per day, ISO week and
    month for the last keep_daily days, keep_weekly weeks and keep_monthly months; and always the
    newest verified backup. Returns (keep {name: [reasons]}, remove [names])."""
    ordered = sorted(backups, key=lambda b: b["created_epoch"], reverse=True)
    keep = {}

    def mark(backup, reason):
        keep.setdefault(backup["name"], []).append(reason)

    for backup in ordered[:keep_last]:
        mark(backup, "last %d" % keep_last)
    buckets = (("daily", keep_daily, lambda d: d.strftime("%Y-%m-%d")),
               ("weekly", keep_weekly, lambda d: "%d-W%02d" % d.isocalendar()[:2]),
               ("monthly", keep_monthly, lambda d: d.strftime("%Y-%m")))
    for label, count, key in buckets:
        seen = []
        for backup in ordered:
            bucket = key(utc(backup["created_epoch"]))
            if bucket not in seen:
                seen.append(bucket)
                if len(seen) <= count:
                    mark(backup, "%s %s" % (label, bucket))
    verified = [b for b in ordered if b.get("status") == "verified"]
    if verified:
        mark(verified[0], "newest verified")
    return keep, [b["name"] for b in ordered if b["name"] not in keep]


def remove_path(path):
    """A dump file or a directory-format dump, if it is there."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


class PgBackup(Manager):
    """The pg_backup module: reads run in both modes; dumps, restores and removals are planned
    and go through the gate, so check mode records the very commands a run makes."""

    def __init__(self, module, now=None):
        params = module.params
        super(PgBackup, self).__init__(module, Runner(
            module, become_user=params["become_user"], environ=libpq_environ(params),
            secrets=[params["login_password"]] if params.get("login_password") else []))
        self.now = now
        self.dest = self.p["dest"]

    def states(self):
        return {"dump": self.dump, "verify": self.verify, "restore": self.restore, "prune": self.prune,
                "query": self.query}

    def task(self):
        return "manage backups in %s" % self.dest

    def clock(self):
        return time.time() if self.now is None else self.now

    def run(self):
        if self.p["jobs"] > 1 and self.p["format"] != "directory":
            raise ModuleError("Failed to use jobs=%d: parallel dumps need format=directory." % self.p["jobs"])
        return super(PgBackup, self).run()

    # -- tools ---------------------------------------------------------------------------------
    @staticmethod
    def psql_argv(database, sql):
        return ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql]

    def psql(self, database, sql, what):
        _rc, out, _err = self.runner.run(self.psql_argv(database, sql), what=what)
        return out

    def counts(self, database):
        return parse_counts(self.psql(database, COUNTS_SQL, "count rows in %s" % database))

    def plan_counts(self, plan, database, into):
        """Count rows once the planned operations before this one ran (``into`` is filled)."""
        plan.run(self.psql_argv(database, COUNTS_SQL), what="count rows in %s" % database,
                 then=lambda out: into.update(parse_counts(out)))

    def migrations(self, database):
        table = self.p["migrations_table"]
        if not table or not NAME_RE.match(table):
            return None
        where = self.psql(database, "SELECT table_schema FROM information_schema.tables WHERE table_name = '%s' "
                                    "ORDER BY 1 LIMIT 1" % table, "find the migrations table").strip()
        if not where:
            return None
        out = self.psql(database, 'SELECT name FROM "%s"."%s" ORDER BY run_on, id' % (where, table),
                        "read applied migrations")
        return [line for line in out.splitlines() if line]

    def database_exists(self, database):
        return self.psql("postgres", "SELECT 1 FROM pg_database WHERE datname = '%s'" % database.replace("'", "''"),
                         "look up database %s" % database).strip() == "1"

    # -- manifests -----------------------------------------------------------------------------
    def manifests(self):
        if not os.path.isdir(self.dest):
            return []
        found = []
        for name in sorted(os.listdir(self.dest)):
            if name.endswith(".json") and not name.startswith("."):
                data = read_json(os.path.join(self.dest, name))
                if isinstance(data, dict):
                    data["manifest_path"] = os.path.join(self.dest, name)
                    found.append(data)
        return found

    def write_manifest(self, manifest):
        path = manifest.pop("manifest_path", None) or os.path.join(self.dest, manifest["name"] + ".json")
        write_json_atomic(path, manifest)
        manifest["manifest_path"] = path
        return path

    def beside(self, path):
        """The manifest next to a dump (<name>.json beside <name>.dump or <name>.dir), wherever the dump is now:
        a dump kept outside O(dest), or moved with its manifest, is found without O(dest)."""
        candidate = os.path.splitext(path)[0] + ".json"
        data = read_json(candidate) if os.path.isfile(candidate) else None
        if not isinstance(data, dict) or os.path.basename(data.get("path", "")) != os.path.basename(path):
            return []
        data.update(manifest_path=candidate, path=path)
        return [data]

    def find(self):
        """The manifest of O(path), or of the newest backup with O(latest)."""
        def wanted_db(manifest):
            return not self.p["database"] or manifest.get("database") == self.p["database"]

        if self.p["path"]:
            wanted = os.path.realpath(self.p["path"])
            matches = [m for m in self.beside(self.p["path"]) + self.manifests()
                       if wanted_db(m) and os.path.realpath(m.get("path", "")) == wanted]
            if not matches:
                raise ModuleError("Failed to find a manifest for %s beside it or in %s: pg_backup only restores or "
                                  "verifies its own dumps (with their .json manifest)." % (self.p["path"], self.dest))
            return matches[0]
        backups = [m for m in self.manifests() if wanted_db(m)]
        if not backups:
            raise ModuleError("Failed to find any backup in %s%s." % (
                self.dest, " for database %s" % self.p["database"] if self.p["database"] else ""))
        return max(backups, key=lambda m: m["created_epoch"])

    def check_sum(self, manifest):
        if not os.path.exists(manifest["path"]):
            raise ModuleError("Failed to verify %s: the dump file is missing." % manifest["path"])
        actual = checksum(manifest["path"])
        if actual != manifest["sha256"]:
            raise ModuleError("Failed to verify %s: sha256 is %s but the manifest says %s; the dump is corrupted or "
                              "was changed. Use another backup." % (manifest["path"], actual, manifest["sha256"]),
                              sha256=actual)

    def plan_restore(self, plan, manifest, database, extra=()):
        argv = ["pg_restore", "--exit-on-error", "--dbname", database] + list(extra)
        if self.p["no_owner"]:
            argv += ["--no-owner", "--no-acl"]
        if manifest.get("format") == "directory" and self.p["jobs"] > 1:
            argv += ["--jobs", str(self.p["jobs"])]
        elif "--clean" not in extra:
            argv.append("--single-transaction")
        plan.run(argv + [manifest["path"]], what="restore %s into %s" % (manifest["name"], database))

    # -- states --------------------------------------------------------------------------------
    def dump(self):
        db = self.p["database"]
        started = self.clock()
        name = backup_name(db, started, self.p["label"])
        ext = ".dump" if self.p["format"] == "custom" else ".dir"
        base, serial = name, 1
        while os.path.exists(os.path.join(self.dest, name + ".json")):  # two dumps in one second
            serial += 1
            name = "%s-%d" % (base, serial)
        final = os.path.join(self.dest, name + ext)
        partial = os.path.join(self.dest, "." + name + ext + ".partial")
        self.result.update(path=final, name=name)
        # What the manifest records about the source, read before the dump (check mode too).
        facts = {"server_version": self.psql(db, "SHOW server_version", "read the server version").strip(),
                 "tables": self.counts(db), "migrations": self.migrations(db),
                 "pg_dump_version": self.runner.run(["pg_dump", "--version"],
                                                    what="read the pg_dump version")[1].strip()}
        argv = ["pg_dump", "--format", self.p["format"], "--compress", str(self.p["compression"]), "--file", partial]
        if self.p["format"] == "directory" and self.p["jobs"] > 1:
            argv += ["--jobs", str(self.p["jobs"])]
        plan = self.plan()
        plan.step(self.prepare_dest, what="prepare %s" % self.dest)
        plan.run(argv + [db], what="dump %s" % db)
        # Some pg_dump failures exit 0: the dump is good only once pg_restore can read it.
        plan.run(["pg_restore", "--list", partial], what="read the new dump",
                 then=lambda toc: self._require_table_data(toc, facts["tables"], db))
        plan.step(lambda: self._keep_dump(name, partial, final, started, facts), what="keep the dump %s" % final)
        plan.step(lambda: remove_path(partial), always=True, what="remove %s" % partial)
        return plan

    @staticmethod
    def _require_table_data(toc, counts, db):
        if "TABLE DATA" not in toc and counts:
            raise ModuleError("Failed to dump %s: the dump lists no table data." % db)

    def _keep_dump(self, name, partial, final, started, facts):
        digest = checksum(partial)
        os.replace(partial, final)
        finished = self.clock()
        manifest = dict(facts, name=name, path=final, database=self.p["database"], label=self.p["label"],
                        format=self.p["format"], compression=self.p["compression"], size=size_of(final),
                        sha256=digest, started=iso(started), finished=iso(finished), created_epoch=started,
                        duration_s=round(finished - started, 3), status="dumped")
        self.result.update(manifest=manifest, manifest_path=self.write_manifest(manifest), sha256=digest,
                           size=manifest["size"], tables=facts["tables"], duration_s=manifest["duration_s"])

    def prepare_dest(self):
        if not os.path.isdir(self.dest):
            os.makedirs(self.dest, 0o700)
        if self.p["become_user"]:
            chown(self.dest, user=self.p["become_user"])
        os.chmod(self.dest, 0o700)

    def verify(self):
        manifest = self.find()
        self.result.update(path=manifest["path"], name=manifest["name"])
        self.check_sum(manifest)
        self.runner.run(["pg_restore", "--list", manifest["path"]], what="read %s" % manifest["path"])
        scratch = "%s_verify_%s" % (manifest["database"], uuid.uuid4().hex[:8])
        started = self.clock()
        actual = {}
        # A real restore into a scratch database that is always dropped; the manifest then
        # records the verification (so verify always changes something).
        plan = self.plan()
        plan.run(["createdb", scratch], what="create scratch database %s" % scratch)
        self.plan_restore(plan, manifest, scratch)
        self.plan_counts(plan, scratch, actual)
        query = self.p["verify_query"]
        if query:
            plan.run(self.psql_argv(scratch, query), what="run verify_query on the restored copy",
                     then=lambda out: actual.update({QUERY_KEY: out.strip()}))
        plan.run(["dropdb", "--if-exists", scratch], what="drop scratch database %s" % scratch, always=True)
        plan.step(lambda: self._record_verification(manifest, scratch, actual, started),
                  what="record the verification of %s" % manifest["name"])
        return plan

    def _record_verification(self, manifest, scratch, actual, started):
        answer = actual.pop(QUERY_KEY, None)
        mismatches = compare_counts(manifest.get("tables") or {}, actual)
        self.result.update(scratch_database=scratch, mismatches=mismatches, tables=actual,
                           duration_s=round(self.clock() - started, 3))
        if mismatches:
            raise ModuleError("Failed to verify %s: row counts differ after a real restore: %s." % (
                manifest["name"], ", ".join("%(table)s expected %(expected)s got %(actual)s" % m for m in mismatches)),
                mismatches=mismatches, path=manifest["path"])
        if answer is not None:
            self.result["verify_query_answer"] = answer
            if answer.splitlines()[:1] != ["t"]:
                raise ModuleError("Failed to verify %s: verify_query answered %r on the restored copy, not true "
                                  "(t)." % (manifest["name"], answer[:200]), path=manifest["path"])
        manifest.update(status="verified", verified_at=iso(self.clock()))
        self.write_manifest(manifest)
        self.result["ok"] = True

    def restore(self):
        manifest = self.find()
        target = self.p["target"]
        self.result.update(path=manifest["path"], name=manifest["name"], target=target)
        self.check_sum(manifest)
        exists = self.database_exists(target)
        plan = self.plan()
        extra = []
        if self.p["create"]:
            if exists:
                raise ModuleError("Failed to restore into %s: it already exists and create=true asks for a new "
                                  "database. Pick another target or drop create." % target)
            plan.run(["createdb", target], what="create database %s" % target)
        elif not exists:
            raise ModuleError("Failed to restore into %s: no such database. Set create=true to create it." % target)
        else:
            tables = self.counts(target)
            if tables and not self.p["force"]:
                raise ModuleError("Failed to restore into %s: it is not empty (%d tables). Restore into a new database "
                                  "(create=true), or set force=true to drop and recreate the dump's objects."
                                  % (target, len(tables)), tables=sorted(tables))
            # Also without tables: a freshly provisioned database already has the dump's schemas.
            if tables or self.p["force"]:
                extra = ["--clean", "--if-exists"]
        self.plan_restore(plan, manifest, target, extra)
        restored = {}
        self.plan_counts(plan, target, restored)
        plan.step(lambda: self.result.update(
            tables=restored, mismatches=compare_counts(manifest.get("tables") or {}, restored)))
        return plan

    def prune(self):
        backups = self.manifests()
        if self.p["database"]:
            backups = [b for b in backups if b.get("database") == self.p["database"]]
        keep, remove = plan_retention(backups, self.clock(), self.p["keep_last"], self.p["keep_daily"],
                                      self.p["keep_weekly"], self.p["keep_monthly"])
        self.result.update(removed=remove, kept=keep)
        plan = self.plan()
        for backup in backups:
            if backup["name"] in remove:
                plan.step(lambda backup=backup: self._remove_backup(backup), what="remove %s" % backup["name"])
        return plan

    @staticmethod
    def _remove_backup(backup):
        remove_path(backup["path"])
        os.unlink(backup["manifest_path"])

    def query(self):
        now = self.clock()
        # Newest first; age_s follows created_epoch, which also orders dumps of the same second.
        self.result["backups"] = [
            {"name": b["name"], "path": b["path"], "database": b.get("database"), "label": b.get("label"),
             "created": b.get("started"), "age_s": int(now - b["created_epoch"]),
             "age": "%.1f h" % ((now - b["created_epoch"]) / 3600), "size": b.get("size"),
             "verified": b.get("status") == "verified", "verified_at": b.get("verified_at"),
             "verified_age_s": int(now - epoch_of(b["verified_at"])) if b.get("verified_at") else None,
             "sha256": b.get("sha256"), "migrations": b.get("migrations")}
            for b in sorted(self.manifests(), key=lambda m: m["created_epoch"], reverse=True)
            if not self.p["database"] or b.get("database") == self.p["database"]]
        return None
