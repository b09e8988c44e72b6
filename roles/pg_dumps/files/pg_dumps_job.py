# Managed by the boosterbeacon.infra.pg_dumps role; run with python3.
"""Scheduled logical dumps: dump, prune and verify with the pg_backup module's own code.

    pg_dumps_job.py [--config FILE] dump      dump every database, then prune by the policy
    pg_dumps_job.py [--config FILE] verify    restore the newest backup of each database (and
                                              up to verify_max older unverified ones, such as a
                                              deploy's pre-migration dumps) into a scratch database
    pg_dumps_job.py [--config FILE] status    refresh the ages in the status file only

Runs as postgres (peer authentication, no password). Each run rewrites the status file
atomically (other jobs' last results kept) and exits 1 when anything it did failed, so the
systemd unit shows failed. The module's files come from the role, under ``lib`` of the config.
"""
import argparse
import fcntl
import json
import os
import sys
import time

CONFIG = "/etc/boosterbeacon/pg-dumps.json"


def load_config(path):
    with open(path) as handle:
        config = json.load(handle)
    sys.path.insert(0, config["lib"])
    return config


def module_params(config, **params):
    """pg_backup's parameters for one call; the job is postgres already, so no become_user."""
    base = {"dest": config["dest"], "become_user": None}
    base.update(params)
    return base


class Job:
    def __init__(self, config, now=time.time):
        # Imported once the config has put the collection's files on the path.
        from ansible_collections.boosterbeacon.infra.plugins.module_utils import _common, _pg_backup, _standalone
        from ansible_collections.boosterbeacon.infra.plugins.modules.pg_backup import ARGUMENT_SPEC
        self.config = config
        self.now = now
        self.common = _common
        self.epoch = _pg_backup.epoch_of
        self.status = _common.read_json(config["status_file"]) or {}
        self._call = lambda params: _standalone.run_standalone(_pg_backup.PgBackup, ARGUMENT_SPEC, params)
        self.error = _common.ModuleError

    def call(self, **params):
        """(result, None) or (None, message)."""
        try:
            return self._call(module_params(self.config, **params)), None
        except self.error as exc:
            return None, exc.msg

    def stamp(self):
        return self.common.iso(self.now())

    def dump(self):
        c = self.config
        report = {"started": self.stamp(), "databases": {}}
        for db in c["databases"]:
            made, problem = self.call(state="dump", database=db, label=c["label"], format=c["format"],
                                      compression=c["compression"], jobs=c["jobs"])
            entry = {"result": "ok", "name": made["name"], "size": made["size"],
                     "duration_s": made["duration_s"]} if made else {"result": "failed", "message": problem}
            pruned, problem = self.call(state="prune", database=db, keep_last=c["keep_last"],
                                        keep_daily=c["keep_daily"], keep_weekly=c["keep_weekly"],
                                        keep_monthly=c["keep_monthly"])
            if pruned:
                entry["pruned"] = pruned["removed"]
            else:
                entry.update(result="failed", message=(entry.get("message", "") + " prune: " + problem).strip())
            report["databases"][db] = entry
        return self.finish("dump", report)

    def verify(self):
        c = self.config
        report = {"started": self.stamp(), "databases": {}}
        for db in c["databases"]:
            listed, problem = self.call(state="query", database=db)
            backups = listed["backups"] if listed else []  # newest first
            # The newest always (a backup proved by a restore today), then older unverified ones.
            chosen = backups[:1] + [b for b in backups[1:] if not b["verified"]][:c["verify_max"] - 1]
            results = []
            if problem or not backups:
                results.append({"result": "failed", "message": problem or "no backup of %s in %s" % (db, c["dest"])})
            for backup in chosen:
                params = {"state": "verify", "database": db, "path": backup["path"]}
                if c["verify_query"]:
                    params["verify_query"] = c["verify_query"]
                done, problem = self.call(**params)
                results.append({"name": backup["name"], "result": "ok" if done else "failed",
                                "message": problem or "", "duration_s": done["duration_s"] if done else None})
            report["databases"][db] = results
        return self.finish("verify", report)

    def finish(self, job, report):
        entries = [e for v in report["databases"].values() for e in (v if isinstance(v, list) else [v])]
        report.update(finished=self.stamp(), result="ok" if all(e["result"] == "ok" for e in entries) else "failed")
        self.status[job] = report
        self.refresh()
        return 0 if report["result"] == "ok" else 1

    def refresh(self):
        """Recompute the latest backup and verification of each database; write the status file."""
        c = self.config
        now = self.now()
        problems = []
        summary = {}
        for db in c["databases"]:
            listed, problem = self.call(state="query", database=db)
            if problem:
                problems.append("%s: cannot list backups: %s" % (db, problem))
                continue
            backups = listed["backups"]
            verified = sorted((b for b in backups if b["verified_at"]), key=lambda b: b["verified_at"])
            latest = backups[0] if backups else None
            last_check = verified[-1] if verified else None
            check_age = int(now - self.epoch(last_check["verified_at"])) if last_check else None
            backup_age = int(now - self.epoch(latest["created"])) if latest else None
            summary[db] = {
                "backups": len(backups),
                "latest_backup": latest and {"name": latest["name"], "created": latest["created"],
                                             "age_s": backup_age, "verified": latest["verified"]},
                "latest_verification": last_check and {"name": last_check["name"],
                                                       "verified_at": last_check["verified_at"], "age_s": check_age},
            }
            if not latest:
                problems.append("%s: no backup in %s" % (db, c["dest"]))
            elif backup_age > c["max_backup_age_hours"] * 3600:
                problems.append("%s: the newest backup is %.1f h old (more than %s h)" % (
                    db, backup_age / 3600.0, c["max_backup_age_hours"]))
            if not last_check:
                problems.append("%s: no backup has been verified by a restore" % db)
            elif check_age > c["max_verify_age_hours"] * 3600:
                problems.append("%s: the last successful verification is %.1f h old (more than %s h)" % (
                    db, check_age / 3600.0, c["max_verify_age_hours"]))
        for job in ("dump", "verify"):
            for db, entry in sorted((self.status.get(job) or {}).get("databases", {}).items()):
                for e in entry if isinstance(entry, list) else [entry]:
                    if e["result"] != "ok":
                        problems.append("%s: the last %s failed%s: %s" % (
                            db, job, " for " + e["name"] if e.get("name") else "", e["message"]))
        self.status.update(ok=not problems, problems=problems, updated=self.common.iso(now), databases=summary,
                           dest=c["dest"])
        self.common.write_json_atomic(c["status_file"], self.status)
        return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=CONFIG)
    parser.add_argument("job", choices=["dump", "verify", "status"])
    args = parser.parse_args(argv)
    config = load_config(args.config)
    os.makedirs(config["dest"], 0o700, exist_ok=True)
    # One job at a time: a prune must not remove the dump a verification is restoring.
    with open(os.path.join(config["dest"], ".pg-dumps.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        job = Job(config)
        rc = {"dump": job.dump, "verify": job.verify, "status": job.refresh}[args.job]()
    print(json.dumps({k: job.status.get(k) for k in ("ok", "problems", args.job) if k in job.status}, indent=2))
    return rc


if __name__ == "__main__":
    sys.exit(main())
