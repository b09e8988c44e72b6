# Managed by the boosterbeacon.infra.prometheus_exporters role; run with python3.
"""Textfile collectors for the node exporter: each writes one *.prom file, atomically.

    python3 boosterbeacon_textfile.py backups --dir DIR [--backup TOOL=STATUS_FILE ...]
        boosterbeacon_backup_* from the status files of pgbackrest and pg_dumps
    python3 boosterbeacon_textfile.py certificates --dir DIR [--certificate PATH ...]
        boosterbeacon_certificate_* from PEM certificates (the first one of each file)
    python3 boosterbeacon_textfile.py status --dir DIR [--backup ...] [--certificate ...]
        both of the above
    python3 boosterbeacon_textfile.py pm2 --dir DIR --pm2-home PATH [--every SECONDS]
        boosterbeacon_pm2_* from the process list `pm2 jlist` prints, asked of the PM2 daemon
        of PATH over its socket (no Node.js started per read); with --every, again and again

A status file or certificate that cannot be read is reported in the metrics (and on stderr),
not by the exit status: that is 1 only when the PM2 list or writing a file failed.
When the daemon does not answer, the PM2 file is left as it was, so its collect timestamp grows
old and the staleness alert fires; nothing of the list is ever printed (it holds the
processes' environments, secrets included).
"""

import argparse
import calendar
import datetime
import json
import os
import subprocess
import sys
import time

# The collection's shared code (plugins/module_utils/_common.py): the role installs it under
# python/ beside this script; the collection's own tests import it from the working tree.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import pm2_list, write_file_atomic  # noqa: E402

BACKUP_FILE = "boosterbeacon_backup.prom"
CERTIFICATE_FILE = "boosterbeacon_certificate.prom"
PM2_FILE = "boosterbeacon_pm2.prom"
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --- the exposition format -------------------------------------------------------------------

def escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class Metrics:
    """Samples grouped by metric name, rendered with HELP and TYPE once per name."""

    def __init__(self):
        self.families = {}

    def add(self, name, kind, text, value, **labels):
        family = self.families.setdefault(name, {"kind": kind, "help": text, "samples": []})
        family["samples"].append((labels, value))

    def render(self):
        lines = []
        for name, family in self.families.items():
            lines.append("# HELP %s %s" % (name, family["help"]))
            lines.append("# TYPE %s %s" % (name, family["kind"]))
            for labels, value in family["samples"]:
                label_text = ",".join('%s="%s"' % (k, escape(v)) for k, v in sorted(labels.items()))
                lines.append("%s%s %s" % (name, "{%s}" % label_text if label_text else "", number(value)))
        return "\n".join(lines) + "\n"


def epoch_of(text):
    """Seconds since the epoch of an ISO 8601 time ("2026-11-30T09:40:05Z"); None if unusable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


# --- backups ---------------------------------------------------------------------------------

def read_status(path):
    """(status dict, None) or (None, why): a missing file is told apart from a broken one."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None, "no status file %s" % path
    except (OSError, ValueError) as err:
        return None, "cannot read %s: %s" % (path, err)
    if not isinstance(data, dict):
        return None, "%s holds no JSON object" % path
    return data, None


def pgbackrest_times(status):
    """(last success, last verified): the oldest of the repositories' newest good backups, and
    the end of the last verify when it found every repository sound."""
    ends = []
    for entry in (status.get("latest_backups") or {}).values():
        if isinstance(entry, dict) and entry.get("result") == "ok" and entry.get("stop_epoch") is not None:
            ends.append(float(entry["stop_epoch"]))
    verify = status.get("verify") or {}
    verified = epoch_of(verify.get("finished")) if verify.get("result") == "ok" else None
    return (min(ends) if ends else None), verified


def pg_dumps_times(status):
    """(last success, last verified): the oldest over the databases of each one's newest dump
    and newest successful verification; None when a database has none."""
    created, verified = [], []
    for entry in (status.get("databases") or {}).values():
        entry = entry or {}
        created.append(epoch_of((entry.get("latest_backup") or {}).get("created")))
        verified.append(epoch_of((entry.get("latest_verification") or {}).get("verified_at")))
    return oldest(created), oldest(verified)


def oldest(values):
    """The smallest value; None when there is none or one is missing (that one is older still)."""
    return None if not values or None in values else min(values)


TIMES = {"pgbackrest": pgbackrest_times, "pg_dumps": pg_dumps_times}


def backup_metrics(sources, metrics=None):
    """sources: [(tool, status dict or None)]. A tool whose status file is missing or unreadable
    has boosterbeacon_backup_status_present 0 and boosterbeacon_backup_ok 0, and no timestamps."""
    metrics = metrics or Metrics()
    for tool, status in sources:
        metrics.add("boosterbeacon_backup_status_present", "gauge",
                    "1 when the tool's status file was read, 0 when it is missing or unreadable.",
                    status is not None, tool=tool)
        ok = bool(status and status.get("ok") is True)
        metrics.add("boosterbeacon_backup_ok", "gauge",
                    "1 when the tool's status file says ok, 0 otherwise (also when there is none).", ok, tool=tool)
        if status is None:
            continue
        metrics.add("boosterbeacon_backup_problems", "gauge",
                    "Problems the tool's status file lists.", len(status.get("problems") or []), tool=tool)
        updated = epoch_of(status.get("updated"))
        if updated is not None:
            metrics.add("boosterbeacon_backup_status_timestamp_seconds", "gauge",
                        "When the tool last wrote its status file.", updated, tool=tool)
        success, verified = TIMES.get(tool, lambda s: (None, None))(status)
        if success is not None:
            metrics.add("boosterbeacon_backup_last_success_timestamp_seconds", "gauge",
                        "End of the newest successful backup (the oldest such over repositories or databases).",
                        success, tool=tool)
        if verified is not None:
            metrics.add("boosterbeacon_backup_last_verified_timestamp_seconds", "gauge",
                        "End of the newest successful verification (the oldest such over databases).",
                        verified, tool=tool)
    return metrics


# --- certificates ----------------------------------------------------------------------------

def parse_enddate(text):
    """Epoch of openssl's `notAfter=Nov 30 12:00:00 2027 GMT`."""
    value = text.strip().split("=", 1)[-1].strip()
    value = " ".join(value.split())  # "Dec  1" has two spaces
    return float(calendar.timegm(time.strptime(value, "%b %d %H:%M:%S %Y GMT")))


def certificate_expiry(path, run=subprocess.run):
    proc = run(["openssl", "x509", "-noout", "-enddate", "-in", path], stdout=subprocess.PIPE,
               stderr=subprocess.PIPE, universal_newlines=True, check=False,
               env={"PATH": SAFE_PATH, "LC_ALL": "C"})
    if proc.returncode != 0:
        raise ValueError(proc.stderr.strip() or "openssl exited %d" % proc.returncode)
    return parse_enddate(proc.stdout)


def certificate_metrics(results, metrics=None):
    """results: [(path, expiry epoch or None)]."""
    metrics = metrics or Metrics()
    for path, expiry in results:
        metrics.add("boosterbeacon_certificate_readable", "gauge",
                    "1 when the certificate file was read, 0 when it is missing or not a certificate.",
                    expiry is not None, path=path)
    for path, expiry in results:
        if expiry is not None:
            metrics.add("boosterbeacon_certificate_expiry_timestamp_seconds", "gauge",
                        "When the certificate (the first in the file) expires.", expiry, path=path)
    return metrics


# --- PM2 -------------------------------------------------------------------------------------

def pm2_metrics(processes, now, daemon_up=True, metrics=None):
    """Metrics of each process of `pm2 jlist` (its environment is never looked at)."""
    metrics = metrics or Metrics()
    metrics.add("boosterbeacon_pm2_daemon_up", "gauge", "1 when the PM2 daemon runs.", daemon_up)
    for proc in processes:
        env = proc.get("pm2_env") or {}
        monit = proc.get("monit") or {}
        labels = {"app": proc.get("name", ""), "pm_id": proc.get("pm_id", "")}
        online = env.get("status") == "online"
        started = env.get("pm_uptime")
        uptime = max(0.0, now - started / 1000.0) if online and isinstance(started, (int, float)) else 0
        metrics.add("boosterbeacon_pm2_up", "gauge", "1 when PM2 reports the process online, 0 otherwise.",
                    online, **labels)
        metrics.add("boosterbeacon_pm2_restarts_total", "counter", "Restarts PM2 counted for the process.",
                    int(env.get("restart_time") or 0), **labels)
        metrics.add("boosterbeacon_pm2_memory_bytes", "gauge", "Resident memory of the process.",
                    int(monit.get("memory") or 0), **labels)
        metrics.add("boosterbeacon_pm2_cpu_percent", "gauge", "CPU use of the process, percent of one CPU.",
                    float(monit.get("cpu") or 0), **labels)
        metrics.add("boosterbeacon_pm2_uptime_seconds", "gauge", "Seconds since the process started (0 unless online).",
                    uptime, **labels)
    metrics.add("boosterbeacon_pm2_collect_timestamp_seconds", "gauge",
                "When the PM2 process list was last read.", now)
    return metrics


def daemon_running(pm2_home):
    """Whether PM2_HOME/pm2.pid names a live process (a stopped daemon is reported, not an error)."""
    try:
        with open(os.path.join(pm2_home, "pm2.pid")) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


# --- commands --------------------------------------------------------------------------------

def run_backups(args):
    sources = []
    for item in args.backup:
        tool, path = item.split("=", 1) if "=" in item else (item, "")
        status, why = read_status(path)
        if why:
            print("%s: %s" % (tool, why), file=sys.stderr)
        sources.append((tool, status))
    write_file_atomic(os.path.join(args.dir, BACKUP_FILE), backup_metrics(sources).render())
    return 0


def run_certificates(args):
    results = []
    for path in args.certificate:
        try:
            results.append((path, certificate_expiry(path)))
        except (OSError, ValueError) as err:
            print("%s: %s" % (path, err), file=sys.stderr)
            results.append((path, None))
    write_file_atomic(os.path.join(args.dir, CERTIFICATE_FILE), certificate_metrics(results).render())
    return 0


def run_status(args):
    return max(run_backups(args), run_certificates(args))


def collect_pm2(args, clock=time.time):
    if not daemon_running(args.pm2_home):
        write_file_atomic(os.path.join(args.dir, PM2_FILE), pm2_metrics([], clock(), daemon_up=False).render())
        return 0
    try:
        processes = pm2_list(args.pm2_home)
    except (OSError, ValueError) as err:
        print("Failed to read the PM2 process list: %s" % err, file=sys.stderr)
        return 1
    write_file_atomic(os.path.join(args.dir, PM2_FILE), pm2_metrics(processes, clock()).render())
    return 0


def run_pm2(args):
    if not args.every:
        return collect_pm2(args)
    while True:
        started = time.monotonic()
        collect_pm2(args)
        time.sleep(max(1.0, args.every - (time.monotonic() - started)))


def parser():
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    backups = sub.add_parser("backups")
    certificates = sub.add_parser("certificates")
    status = sub.add_parser("status")
    for command in (backups, status):
        command.add_argument("--backup", action="append", default=[], metavar="TOOL=STATUS_FILE")
    for command in (certificates, status):
        command.add_argument("--certificate", action="append", default=[], metavar="PATH")
    pm2 = sub.add_parser("pm2")
    pm2.add_argument("--pm2-home", required=True)
    pm2.add_argument("--every", type=float, default=0, help="seconds between reads; 0: once")
    for command in (backups, certificates, status, pm2):
        command.add_argument("--dir", required=True, help="the node exporter's textfile directory")
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    return {"backups": run_backups, "certificates": run_certificates, "status": run_status,
            "pm2": run_pm2}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
