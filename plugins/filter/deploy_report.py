# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters health_lines, smoke_checks, smoke_failures, backup_before, status_files and status_lines: what the deploy
role checks and prints."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible.errors import AnsibleFilterError

_MB = 1048576.0


def _require(value, kind, name):
    if not isinstance(value, kind):
        raise AnsibleFilterError("%s expects %s, got %r" % (name, kind.__name__, value))
    return value


def _state(check):
    if check.get("ok"):
        return "ok  "
    return "FAIL" if check.get("blocking", True) else "WARN"


def health_lines(report):
    """One line per check of a health_probe report: state, name, attempts, error and hint."""
    lines = []
    for check in _require(report, dict, "health_lines").get("checks") or []:
        extra = "".join(", %s%s" % (label, check[key]) for key, label in (("error", ""), ("hint", "hint: "))
                        if check.get(key))
        lines.append("%s %s (%s attempts%s)" % (_state(check), check.get("name"), check.get("attempts", 0), extra))
    return lines


def smoke_checks(tests, base_url):
    """Smoke tests ({path, status, body_contains} items) as health_probe http checks against base_url,
    each named by its path: one module call runs them all."""
    base = str(base_url).rstrip("/")
    return [dict({"name": test["path"], "type": "http", "url": base + test["path"], "status": [test.get("status", 200)],
                  "retries": 1}, **({"body_contains": test["body_contains"]} if test.get("body_contains") else {}))
            for test in _require(tests, list, "smoke_checks")]


def smoke_failures(results):
    """The failed requests of a uri loop over smoke tests ({path, status, body_contains} items), or
    of a health_probe report of smoke_checks: one line each, its path first."""
    if isinstance(results, dict):
        return ["%s: %s" % (check.get("name"), check.get("error") or "failed")
                for check in results.get("checks") or [] if not check.get("ok")]
    failures = []
    for result in _require(results, list, "smoke_failures"):
        item = result.get("item") or {}
        status = result.get("status", -1)
        content = result.get("content") or ""
        if status != item.get("status", 200) or (item.get("body_contains") or "") not in content:
            why = content or result.get("msg") or ""
            failures.append("%s: HTTP %s, %s" % (item.get("path"), status, why[:300]))
    return failures


def backup_before(backups, migrations):
    """Path of the newest backup (pg_backup query lists them newest first) taken before any of
    these migrations ran, that is one whose own migration list has none of them; '' if none."""
    ahead = set(_require(migrations, list, "backup_before"))
    for backup in _require(backups, list, "backup_before"):
        if not ahead.intersection(backup.get("migrations") or []):
            return backup.get("path", "")
    return ""


def _release_lines(releases):
    lines = ["releases (current %s, previous good %s):" % (releases.get("current") or "none",
                                                           releases.get("previous_good") or "none")]
    for rel in releases.get("releases") or []:
        mark = "*" if rel.get("current") else " "
        size = (rel.get("size") or 0) / _MB
        lines.append("  %s %-28s %-8s %-10s %6.1f MB" % (mark, rel.get("id"), rel.get("status"), rel.get("version") or "?", size))
    lock = releases.get("lock")
    if lock:
        lines.append("lock: held by %s@%s (%s, %s s)" % (
            lock.get("owner", "?"), lock.get("host", "?"), lock.get("purpose", ""), lock.get("age", "?")))
    return lines


def _running_lines(current, running):
    lines = ["service runs: " + (", ".join(running) or "nothing")]
    if running and running != [current]:
        lines.append("MISMATCH: current is %s but PM2 runs %s (left by an interrupted run). The next deploy or "
                     "rollback makes them agree before it starts: run one." % (current or "none", ", ".join(running)))
    return lines


def _pm2_lines(app, health):
    checks = [c for c in health.get("checks") or [] if c.get("type") == "pm2"]
    if not checks:
        return ["pm2: not checked"]
    lines = ["pm2:"]
    for proc in checks[0].get("instances") or []:
        lines.append("  %-24s #%-3s %-9s %6.1f MB  cpu %5.1f%%  restarts %s" % (
            app, proc.get("pm_id"), proc.get("status"), (proc.get("memory") or 0) / _MB, proc.get("cpu") or 0,
            proc.get("restarts", 0)))
    if not checks[0].get("instances"):
        lines.append("  none: " + (checks[0].get("error") or "no instance"))
    return lines


def _hours(seconds):
    return "%.1f h" % (seconds / 3600.0)


def _backup_lines(backups, jobs):
    """The newest dump, the newest proved by a restore, and each backup job's status file."""
    last = (backups or [None])[0]
    if last:
        state = "verified" if last.get("verified") else "not verified"
        lines = ["last backup: %s, %s old, %s" % (last.get("name"), last.get("age"), state)]
    else:
        lines = ["last backup: none"]
    proved = [b for b in backups or [] if b.get("verified")]
    if proved:
        age = [b for b in proved if b.get("verified_age_s") is not None]
        newest = min(age, key=lambda b: b["verified_age_s"]) if age else proved[0]
        lines.append("last verified restore: %s%s" % (
            newest.get("name"), ", %s ago" % _hours(newest["verified_age_s"]) if age else ""))
    elif backups:
        lines.append("last verified restore: none")
    for name, status in sorted((jobs or {}).items()):
        if not isinstance(status, dict):
            lines.append("%s: no status file (not set up on this host)" % name)
            continue
        lines.append("%s: %s (updated %s)" % (name, "ok" if status.get("ok") else "NOT OK", status.get("updated")))
        lines += ["  - " + problem for problem in status.get("problems") or []]
    return lines


def status_files(results):
    """{name: document or None} from a looped slurp of status files (``item`` a dict2items entry);
    a file that is missing or not JSON gives None."""
    found = {}
    for result in _require(results, list, "status_files"):
        document = None
        if result.get("content") and not result.get("failed"):
            try:
                document = json.loads(base64.b64decode(result["content"]).decode("utf-8"))
            except ValueError:
                document = None
        found[result["item"]["key"]] = document if isinstance(document, dict) else None
    return found


def status_lines(releases, running, health, backups, app, jobs=None):
    """The status entry point's report: releases, lock, what runs, PM2 figures (from the health
    report's pm2 check), health, the last backup and the last verified restore (pg_backup query,
    newest first) and the scheduled backup jobs' status files ({name: document or None})."""
    _require(releases, dict, "status_lines")
    lines = _release_lines(releases)
    lines += _running_lines(releases.get("current") or "", _require(running, list, "status_lines"))
    lines += _pm2_lines(app, _require(health, dict, "status_lines"))
    lines.append("health:")
    lines += ["  " + line for line in health_lines(health)]
    return lines + _backup_lines(backups, jobs)


class FilterModule(object):
    def filters(self):
        return {"health_lines": health_lines, "smoke_checks": smoke_checks, "smoke_failures": smoke_failures,
                "backup_before": backup_before, "status_lines": status_lines, "status_files": status_files}
