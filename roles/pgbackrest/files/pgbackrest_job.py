# Managed by the boosterbeacon.infra.pgbackrest role; run with python3.
"""Run a pgBackRest job and record its outcome in a JSON status file for monitoring.

    python3 pgbackrest_job.py backup full|diff|incr [LABEL]
                                                 back up into every repository (LABEL: an annotation),
                                                 then check WAL archiving
    python3 pgbackrest_job.py verify             pgbackrest verify, every repository
    python3 pgbackrest_job.py status             refresh the newest backups and WAL archiving

Settings come from /etc/pgbackrest/job.json (written by the role). The status file keeps the
last run of each job; "ok" is false and "problems" says why when the last backup or verify
failed, a repository's newest backup is too old or missing, or WAL archiving has stalled.
Exit status: 0, or 1 when the job itself failed (so systemd marks the unit failed).
"""

import datetime
import fcntl
import glob
import json
import os
import subprocess
import sys
import time

CONFIG = "/etc/pgbackrest/job.json"


def iso(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(argv):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def tail(text, lines=6):
    return "\n".join(text.strip().splitlines()[-lines:])


class Job:
    def __init__(self, config):
        self.cfg = config

    def pgbackrest(self, *args):
        return run(["pgbackrest", "--stanza=" + self.cfg["stanza"]] + list(args))

    def step(self, *args):
        """One pgBackRest command: its result as the status file records it."""
        started = time.time()
        rc, out, err = self.pgbackrest(*args)
        # verify reports what it found on stdout and exits 0 either way.
        ok = rc == 0 and "status: error" not in out
        return {"result": "ok" if ok else "error", "rc": rc, "started": iso(started),
                "finished": iso(time.time()), "message": tail(out + err if not ok else err or out)}

    def backup(self, kind, label=None):
        extra = ["--annotation=label=" + label] if label else []
        repos = {str(repo): self.step(*(["--repo=%d" % repo, "--type=" + kind] + extra + ["backup"]))
                 for repo in self.cfg["repos"]}
        return {"backup": {"type": kind, "label": label, "result": overall(repos), "finished": iso(time.time()),
                           "repos": repos},
                "archive_check": self.step("check")}

    def verify(self):
        repos = {str(repo): self.step("--repo=%d" % repo, "--output=text", "verify") for repo in self.cfg["repos"]}
        return {"verify": {"result": overall(repos), "finished": iso(time.time()), "repos": repos}}

    # -- what every run refreshes --------------------------------------------------------------
    def latest_backups(self):
        """The newest backup of each repository, from pgbackrest info."""
        rc, out, err = self.pgbackrest("--output=json", "info")
        if rc != 0:
            return None, tail(err or out)
        latest = {}
        for stanza in json.loads(out):
            for backup in stanza.get("backup", []):
                repo = str(backup.get("database", {}).get("repo-key", 1))
                stop = backup.get("timestamp", {}).get("stop")
                if repo not in latest or stop >= latest[repo]["stop_epoch"]:
                    latest[repo] = {"label": backup.get("label"), "type": backup.get("type"),
                                    "annotation": backup.get("annotation", {}),
                                    "started": iso(backup.get("timestamp", {}).get("start")), "finished": iso(stop),
                                    "stop_epoch": stop, "result": "error" if backup.get("error") else "ok"}
        return latest, None

    def archiver(self):
        """pg_stat_archiver, and the WAL segments waiting in pg_wal to be archived."""
        now = time.time()
        ready = glob.glob(os.path.join(self.cfg["pg_data"], "pg_wal", "archive_status", "*.ready"))
        ages = []
        for path in ready:
            try:
                ages.append(now - os.stat(path).st_mtime)
            except OSError:  # archived meanwhile
                pass
        state = {"ready_segments": len(ages), "oldest_ready_age_s": int(max(ages)) if ages else 0,
                 "stall_after_s": self.cfg["archive_stall_seconds"]}
        rc, out, err = run(["psql", "-X", "-A", "-t", "-F", "|", "-p", str(self.cfg["pg_port"]), "-d", "postgres", "-c",
                            "SELECT archived_count, coalesce(last_archived_wal, ''), "
                            "coalesce(extract(epoch FROM last_archived_time)::bigint, 0), failed_count, "
                            "coalesce(last_failed_wal, ''), coalesce(extract(epoch FROM last_failed_time)::bigint, 0) "
                            "FROM pg_stat_archiver"])
        if rc != 0:
            state["error"] = "PostgreSQL did not answer: " + tail(err or out, 2)
            return state
        fields = out.strip().split("|")
        archived, failed = int(fields[2]) or None, int(fields[5]) or None
        state.update(archived_count=int(fields[0]), last_archived_wal=fields[1] or None, last_archived=iso(archived),
                     failed_count=int(fields[3]), last_failed_wal=fields[4] or None, last_failed=iso(failed),
                     failing=bool(failed and (not archived or failed > archived)))
        return state


def overall(repos):
    return "ok" if all(r["result"] == "ok" for r in repos.values()) else "error"


def problems_of(status, config, now):
    problems = []
    last = status.get("backup")
    if last and last["result"] != "ok":
        for repo, step in sorted(last["repos"].items()):
            if step["result"] != "ok":
                problems.append("the last %s backup failed in repo%s: %s" % (last["type"], repo, step["message"]))
    check = status.get("archive_check")
    if check and check["result"] != "ok":
        problems.append("pgbackrest check failed after the last backup: %s" % check["message"])
    verify = status.get("verify")
    if verify and verify["result"] != "ok":
        for repo, step in sorted(verify["repos"].items()):
            if step["result"] != "ok":
                problems.append("pgbackrest verify found errors in repo%s: %s" % (repo, step["message"]))
    latest = status.get("latest_backups")
    if latest is None:
        problems.append("pgbackrest info failed: %s" % status.get("latest_backups_error"))
    else:
        max_age = config["max_backup_age_hours"] * 3600
        for repo in config["repos"]:
            newest = latest.get(str(repo))
            if not newest:
                problems.append("repo%d holds no backup" % repo)
            elif now - newest["stop_epoch"] > max_age:
                problems.append("the newest backup in repo%d (%s) is older than %d hours"
                                % (repo, newest["label"], config["max_backup_age_hours"]))
    archive = status.get("archive", {})
    if archive.get("error"):
        problems.append(archive["error"])
    if archive.get("oldest_ready_age_s", 0) > archive.get("stall_after_s", 0):
        problems.append("WAL archiving has stalled: %d segments wait, the oldest for %d s (last failure: %s at %s)"
                        % (archive["ready_segments"], archive["oldest_ready_age_s"], archive.get("last_failed_wal"),
                           archive.get("last_failed")))
    return problems


def record(config, update):
    """Merge this run into the status file under a lock, and replace the file atomically."""
    path = config["status_file"]
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path) as handle:
                status = json.load(handle)
        except (OSError, ValueError):
            status = {}
        status.update(update)
        now = time.time()
        status.update(stanza=config["stanza"], updated=iso(now))
        status["problems"] = problems_of(status, config, now)
        status["ok"] = not status["problems"]
        partial = "%s.%d.partial" % (path, os.getpid())
        with open(partial, "w") as handle:
            json.dump(status, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    return status


def main(argv):
    with open(CONFIG) as handle:
        config = json.load(handle)
    job = Job(config)
    if argv[1:2] == ["backup"] and argv[2:3] in (["full"], ["diff"], ["incr"]) and len(argv) <= 4:
        # One backup at a time: a diff whose timer fires during the full waits for it.
        with open(config["status_file"] + ".backup-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            update = job.backup(argv[2], argv[3] if len(argv) == 4 else None)
    elif argv[1:] == ["verify"]:
        update = job.verify()
    elif argv[1:] == ["status"]:
        update = {}
    else:
        sys.stderr.write(__doc__)
        return 2
    latest, error = job.latest_backups()
    update.update(latest_backups=latest, latest_backups_error=error, archive=job.archiver())
    status = record(config, update)
    for problem in status["problems"]:
        sys.stderr.write("problem: %s\n" % problem)
    failed = [v for k, v in update.items() if k in ("backup", "verify", "archive_check") and v["result"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
