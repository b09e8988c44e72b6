# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters deploy_mark, deploy_steps and deploy_timeline: a run's record, shared by deploys and rollbacks;
deploy_notification and deploy_summary: that record as a webhook's body and as Markdown for a CI job's
summary; rollout_failed and rollout_report: a deploy across several hosts; listed_migrations: what an
artifact migrates."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re
import time

from ansible.errors import AnsibleFilterError
from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import iso


def listed_migrations(listing, migrations_dir):
    """The migrations an artifact ships: the files directly in MIGRATIONS_DIR of its tar listing,
    by name without the extension, sorted."""
    if not isinstance(listing, list) or not isinstance(migrations_dir, str):
        raise AnsibleFilterError("listed_migrations expects a tar listing (list) and a directory, got %r and %r"
                                 % (listing, migrations_dir))
    directory = migrations_dir.strip("/")
    names = []
    for entry in listing:
        path = entry[2:] if entry.startswith("./") else entry
        if posixpath.dirname(path) == directory and re.search(r"\.[A-Za-z]+$", path):
            names.append(re.sub(r"\.[A-Za-z]+$", "", posixpath.basename(path)))
    return sorted(names)


def deploy_mark(marks, step, now=None):
    """The timeline marks with one more: STEP starts now (seconds since the epoch)."""
    if not isinstance(marks, list) or not isinstance(step, str) or not step:
        raise AnsibleFilterError("deploy_mark expects a list of marks and a step name, got %r and %r" % (marks, step))
    return marks + [{"step": step, "at": time.time() if now is None else now}]


def deploy_steps(marks):
    """Timeline marks ([{step, at}], the last one ending the run) as steps with their seconds."""
    try:
        return [{"step": mark["step"], "start": iso(int(float(mark["at"]))),
                 "seconds": round(float(after["at"]) - float(mark["at"]), 1)}
                for mark, after in zip(marks, marks[1:])]
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("deploy_steps expects marks as [{step, at}], got %r: %s" % (marks, exc))


def deploy_timeline(record):
    """The record as lines: a summary, then one line per step."""
    steps = record.get("steps") or []
    total = round(sum(step["seconds"] for step in steps), 1)
    who = "%s@%s" % (record.get("deployed_by", ""), record.get("controller", ""))
    if record.get("kind") == "rollback":
        head = "rollback to %s on %s: %s, %s s, by %s, from %s" % (
            record.get("release_id"), record.get("host"), record.get("result"), total, who,
            record.get("previous") or "nothing")
    else:
        head = "release %s (%s) on %s: %s, %s s, by %s, git %s, artifact sha256 %s" % (
            record.get("release_id"), record.get("version"), record.get("host"), record.get("result"), total,
            who, (record.get("git_sha") or "")[:12], (record.get("artifact_sha256") or "")[:16])
    return [head] + ["%-40s %7.1f s" % (step["step"], step["seconds"]) for step in steps]


# Payload shapes app_deploy_webhook_format selects.
NOTIFICATION_SHAPES = ("generic", "slack")
_RESULT_MARK = {"success": ":white_check_mark:", "unchanged": ":white_check_mark:", "failed": ":x:"}


def _headline(record):
    """One sentence: what ran where and how it ended."""
    version = " (%s)" % record["version"] if record.get("version") else ""
    reason = " - %s" % record["reason"] if record.get("reason") else ""
    return "%s %s%s on %s: %s%s" % (record.get("kind"), record.get("release_id"), version, record.get("host"),
                                    record.get("result"), reason)


def deploy_notification(record, shape="generic"):
    """The webhook's JSON body for a run's record. generic: {event, text, record}; slack: what
    Slack's incoming webhooks (and the chat servers that take their format) read: text and blocks."""
    if not isinstance(record, dict):
        raise AnsibleFilterError("deploy_notification expects the run's record (a dict), got %r" % (record,))
    if shape not in NOTIFICATION_SHAPES:
        raise AnsibleFilterError("app_deploy_webhook_format must be one of %s, got %r"
                                 % (", ".join(NOTIFICATION_SHAPES), shape))
    text = _headline(record)
    if shape == "generic":
        return {"event": "%s %s" % (record.get("kind"), record.get("result")), "text": text, "record": record}
    mark = _RESULT_MARK.get(record.get("result"), ":grey_question:")
    timeline = "\n".join(deploy_timeline(record))
    return {"text": "%s %s" % (mark, text),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "%s *%s*" % (mark, text)}},
                       {"type": "section", "text": {"type": "mrkdwn", "text": "```%s```" % timeline}}]}


def _md(text):
    """Text safe inside a Markdown table cell."""
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def deploy_summary(records, title="Deploy"):
    """The records of one run (a deploy or rollback per host) as Markdown: a heading, a table of
    hosts with their result, release, artifact and reason, then each host's timeline."""
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise AnsibleFilterError("deploy_summary expects a list of run records, got %r" % (records,))
    lines = ["## %s" % title, ""]
    if not records:
        lines.append("No deploy or rollback record was written: the run stopped before it reached a host "
                     "(the gate, the build or bad input; see the log).")
        return "\n".join(lines + [""])
    failed = [r for r in records if r.get("result") == "failed"]
    lines += ["**%s**: %d host(s), %d failed" % ("FAILED" if failed else "OK", len(records), len(failed)), "",
              "| host | kind | result | release | version | git | artifact sha256 | by | reason |",
              "|---|---|---|---|---|---|---|---|---|"]
    for rec in records:
        lines.append("| %s |" % " | ".join(_md(v) for v in (
            rec.get("host"), rec.get("kind"), rec.get("result"), rec.get("release_id"), rec.get("version"),
            (rec.get("git_sha") or "")[:12], rec.get("artifact_sha256"),
            "%s@%s" % (rec.get("deployed_by", ""), rec.get("controller", "")), rec.get("reason"))))
    for rec in records:
        lines += ["", "<details><summary>%s: timeline</summary>" % _md(rec.get("host")), "", "```"]
        lines += deploy_timeline(rec) + ["```", "", "</details>"]
    return "\n".join(lines + [""])


def _host_facts(hostvars, host):
    return hostvars.get(host) or {}


def rollout_failed(hosts, hostvars):
    """The hosts whose deploy in this run failed (their record, fact __app_deploy_rollout, says so)."""
    return [host for host in hosts or []
            if (_host_facts(hostvars, host).get("__app_deploy_rollout") or {}).get("result") == "failed"]


def rollout_report(hosts, hostvars):
    """{lines, failed}: what each host of the rollout did, the failed ones with their reason. A host
    without a deploy record was not reached (the rollout stopped first); a fleet rollback
    (fact __app_deploy_fleet_rollback, its rollback record) is said after the deploy."""
    lines, failed = [], []
    for host in hosts or []:
        facts = _host_facts(hostvars, host)
        deployed = facts.get("__app_deploy_rollout")
        back = facts.get("__app_deploy_fleet_rollback")
        if not deployed:
            lines.append("%s: not deployed, the rollout stopped before this host" % host)
            continue
        result = deployed.get("result")
        if result == "failed":
            failed.append("%s: %s" % (host, deployed.get("reason")))
            line = "%s: FAILED %s: %s" % (host, deployed.get("release_id"), deployed.get("reason"))
        else:
            line = "%s: %s %s" % (host, "deployed" if result == "success" else result, deployed.get("release_id"))
        if back:
            line += ", then put back on %s with the fleet (%s%s)" % (
                back.get("release_id"), back.get("result"), ": " + back["reason"] if back.get("reason") else "")
            if back.get("result") == "failed":
                failed.append("%s: the fleet rollback to %s failed: %s" % (host, back.get("release_id"), back.get("reason")))
        lines.append(line)
    return {"lines": lines, "failed": failed}


class FilterModule(object):
    def filters(self):
        return {"deploy_mark": deploy_mark, "deploy_steps": deploy_steps, "deploy_timeline": deploy_timeline,
                "deploy_notification": deploy_notification, "deploy_summary": deploy_summary,
                "rollout_failed": rollout_failed, "rollout_report": rollout_report, "listed_migrations": listed_migrations}
