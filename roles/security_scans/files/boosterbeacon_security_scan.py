# Managed by the boosterbeacon.infra.security_scans role; run with python3.
"""Security scans for the node exporter's textfile collector: each command runs one scanner and
writes its metrics to DIR/boosterbeacon_security_<scanner>.prom, atomically.

    python3 boosterbeacon_security_scan.py lynis --dir DIR [--report-file PATH] [--log-file PATH]
        `lynis audit system` (cron-job style), then its report: warnings, suggestions, hardening index
    python3 boosterbeacon_security_scan.py debsecan --dir DIR --suite CODENAME [--source URL]
        `debsecan --suite CODENAME --format detail`: Debian's CVE tracker against the installed packages
    python3 boosterbeacon_security_scan.py npm-audit --dir DIR --release DIR --user USER [--path PATH]
        `npm audit --omit=dev --json` in the release directory, as USER (never root)
    (each also takes --timeout SECONDS)

Every run writes boosterbeacon_security_scan_timestamp_seconds{scanner} (when it ran) and
boosterbeacon_security_scan_ok{scanner}: 1 when the scanner finished and its findings are current,
0 otherwise. Only a finished scan writes boosterbeacon_security_findings{scanner,severity} (every
severity of the scanner, zeros included) and, for Lynis, boosterbeacon_lynis_hardening_index.
Why a scan failed goes to stderr (the unit's journal) and into a comment line of the file.
The exit status is 1 only when the file could not be written: a failed scan is news for the
metrics, not a failed unit. Nothing a scanner prints is copied to the metrics but counts.
"""

import argparse
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time

# The collection's shared code (plugins/module_utils/_common.py): the role installs it under
# python/ beside this script; the collection's own tests import it from the working tree.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import write_file_atomic  # noqa: E402

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Severities written for each scanner, in this order, zeros included.
SEVERITIES = {
    "lynis": ["warning", "suggestion"],
    "debsecan": ["critical", "high", "medium", "low", "unfixed"],
    "npm_audit": ["info", "low", "moderate", "high", "critical"],
}

# One HELP text per metric, the same in every file (the node exporter merges the files).
HELP = {
    "boosterbeacon_security_findings": "Findings of the last finished security scan, by scanner and severity.",
    "boosterbeacon_security_scan_timestamp_seconds": "When the security scanner last ran, finished or not (seconds since the epoch).",
    "boosterbeacon_security_scan_ok": "1 when the last security scan finished and its findings are current, 0 when it failed.",
    "boosterbeacon_lynis_hardening_index": "Lynis's hardening index (0-100) from its last finished audit.",
}


class ScanError(Exception):
    """The scan did not finish; the message says why, in one line."""


# --- the exposition format -------------------------------------------------------------------

def escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def one_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def render(scanner, now, findings=None, reason=None, hardening_index=None):
    """The .prom file of one scan: findings (a dict severity -> count) only when it finished."""
    lines = []
    if reason is not None:
        lines.append("# scan failed: %s" % one_line(reason))

    def family(name, samples):
        lines.append("# HELP %s %s" % (name, HELP[name]))
        lines.append("# TYPE %s gauge" % name)
        for labels, value in samples:
            text = ",".join('%s="%s"' % (key, escape(val)) for key, val in labels)
            lines.append("%s%s %s" % (name, "{%s}" % text if text else "", value))

    if findings is not None:
        family("boosterbeacon_security_findings",
               [((("scanner", scanner), ("severity", severity)), int(findings.get(severity, 0)))
                for severity in SEVERITIES[scanner]])
    if hardening_index is not None:
        family("boosterbeacon_lynis_hardening_index", [((), int(hardening_index))])
    family("boosterbeacon_security_scan_timestamp_seconds", [((("scanner", scanner),), "%.3f" % now)])
    family("boosterbeacon_security_scan_ok", [((("scanner", scanner),), 1 if findings is not None else 0)])
    return "\n".join(lines) + "\n"


def prom_name(scanner):
    return "boosterbeacon_security_%s.prom" % scanner


# --- Lynis -----------------------------------------------------------------------------------

def parse_lynis_report(text):
    """(counts {warning, suggestion}, hardening index) from a Lynis report (key=value lines,
    repeated keys end in []). A report without its end time or index is one cut short."""
    values, counts = {}, {"warning": 0, "suggestion": 0}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or line.startswith("#"):
            continue
        if key == "warning[]":
            counts["warning"] += 1
        elif key == "suggestion[]":
            counts["suggestion"] += 1
        elif not key.endswith("[]"):
            values[key] = value.strip()
    if not values.get("report_datetime_end"):
        raise ScanError("the Lynis report has no end time (the audit was cut short)")
    index = values.get("hardening_index", "")
    if not index.isdigit():
        raise ScanError("the Lynis report has no hardening index")
    return counts, int(index)


def lynis_argv(report_file, log_file):
    # --cronjob: no pauses and no colours; --quick and --no-colors said out loud all the same.
    return ["lynis", "audit", "system", "--cronjob", "--quick", "--no-colors",
            "--report-file", report_file, "--logfile", log_file]


def scan_lynis(args, run=subprocess.run, clock=time.time):
    started = clock()
    proc = run(lynis_argv(args.report_file, args.log_file), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
               universal_newlines=True, env={"PATH": SAFE_PATH, "LC_ALL": "C", "TERM": "dumb"},
               timeout=args.timeout, check=False)
    if proc.returncode != 0:
        raise ScanError("lynis exited %d: %s" % (proc.returncode, last_lines(proc.stderr) or "no message"))
    try:
        if os.stat(args.report_file).st_mtime < started - 2:
            raise ScanError("lynis did not write %s" % args.report_file)
        with open(args.report_file, errors="replace") as handle:
            text = handle.read()
    except OSError as err:
        raise ScanError("cannot read the Lynis report: %s" % err) from err
    counts, index = parse_lynis_report(text)
    return counts, {"hardening_index": index}


# --- debsecan --------------------------------------------------------------------------------

HEADLINE = re.compile(r"^(\S+)(?: \((.*)\))?$")
INSTALLED = re.compile(r"^\s+installed: (\S+) (\S+)$")
BUILT_FROM = re.compile(r"^\s+\(built from (\S+) (\S+)\)$")


def parse_debsecan_detail(text):
    """Findings of `debsecan --format detail`: one dict per (issue, installed binary package)
    with its source package and notes (fixed, remotely exploitable, '<urgency> urgency')."""
    findings, current = [], None
    for line in text.splitlines():
        if not line.strip():
            current = None
            continue
        if not line[0].isspace():
            match = HEADLINE.match(line)
            if not match:
                raise ScanError("debsecan printed a line it never prints: %r" % one_line(line, 80))
            notes = [note.strip() for note in (match.group(2) or "").split(",") if note.strip()]
            current = {"issue": match.group(1), "notes": notes, "binary": None, "source": None}
            findings.append(current)
            continue
        if current is None:
            raise ScanError("debsecan printed details without an issue: %r" % one_line(line, 80))
        installed = INSTALLED.match(line)
        built = BUILT_FROM.match(line)
        if installed:
            current["binary"] = installed.group(1)
        elif built:
            current["source"] = built.group(1)
    for finding in findings:
        if not finding["binary"]:
            raise ScanError("debsecan named no installed package for %s" % finding["issue"])
        finding["source"] = finding["source"] or finding["binary"]
    return findings


def debsecan_severity(notes):
    """Our severity of a debsecan finding. With a fix in the suite (an upgrade removes it):
    critical when remotely exploitable and of high urgency, high when either, low when of low
    urgency, medium otherwise. Without one: unfixed, whatever its urgency (no upgrade helps yet).
    debsecan's '?' for remote (unknown) counts as not remote."""
    fixed = "fixed" in notes
    remote = "remotely exploitable" in notes
    urgency = next((note[:-len(" urgency")] for note in notes if note.endswith(" urgency")), "")
    if not fixed:
        return "unfixed"
    if remote and urgency == "high":
        return "critical"
    if remote or urgency == "high":
        return "high"
    if urgency == "low":
        return "low"
    return "medium"


def count_debsecan(findings):
    """Counts by severity of the issues per source package: one upgrade of a source package
    fixes an issue in all its binary packages, so libssl3t64 and openssl count once."""
    seen, counts = set(), dict.fromkeys(SEVERITIES["debsecan"], 0)
    for finding in findings:
        key = (finding["issue"], finding["source"])
        if key in seen:
            continue
        seen.add(key)
        counts[debsecan_severity(finding["notes"])] += 1
    return counts


def debsecan_error(stderr, returncode):
    """debsecan's own error lines ("error: while downloading URL:", "error: [Errno -2] ..."), joined."""
    errors = [line[len("error:"):].strip() for line in stderr.splitlines() if line.startswith("error:")]
    return "debsecan exited %d: %s" % (returncode, " ".join(errors) or last_lines(stderr) or "no message")


def debsecan_argv(suite, source):
    return ["debsecan", "--suite", suite, "--format", "detail"] + (["--source", source] if source else [])


def scan_debsecan(args, run=subprocess.run):
    proc = run(debsecan_argv(args.suite, args.source), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
               universal_newlines=True, env={"PATH": SAFE_PATH, "LC_ALL": "C.UTF-8"},
               timeout=args.timeout, check=False)
    if proc.returncode != 0:
        raise ScanError(debsecan_error(proc.stderr, proc.returncode))
    if proc.stderr.strip():
        print("debsecan: %s" % last_lines(proc.stderr), file=sys.stderr)
    return count_debsecan(parse_debsecan_detail(proc.stdout)), {}


# --- npm audit -------------------------------------------------------------------------------

def parse_npm_audit(text):
    """Counts by severity from `npm audit --json` (npm 7 and later: metadata.vulnerabilities,
    vulnerable packages by their highest severity, dependents of a vulnerable package included,
    as npm itself counts them). An error report names npm's reason."""
    try:
        report = json.loads(text)
    except ValueError:
        raise ScanError("npm audit printed no JSON report: %s" % (one_line(text, 200) or "nothing")) from None
    if not isinstance(report, dict):
        raise ScanError("npm audit printed no JSON report")
    counts = (report.get("metadata") or {}).get("vulnerabilities")
    if isinstance(counts, dict) and all(isinstance(counts.get(s, 0), int) for s in SEVERITIES["npm_audit"]):
        return {severity: counts.get(severity, 0) for severity in SEVERITIES["npm_audit"]}
    error = report.get("error")
    if isinstance(error, dict):
        raise ScanError("npm audit failed: %s%s" % ((error.get("code") + ": ") if error.get("code") else "",
                                                    error.get("summary") or error.get("detail") or "no reason given"))
    if report.get("message"):
        raise ScanError("npm audit failed: %s" % report["message"])
    raise ScanError("npm audit's report has no counts (metadata.vulnerabilities)")


def release_dir(path):
    """The release the link points at now (a deploy may switch it during the audit)."""
    if not os.path.isdir(path):
        raise ScanError("no current release: %s does not exist yet (nothing deployed)" % path)
    real = os.path.realpath(path)
    if not any(os.path.isfile(os.path.join(real, name)) for name in ("package-lock.json", "npm-shrinkwrap.json")):
        raise ScanError("the current release %s has no package-lock.json to audit" % real)
    return real


def npm_env(account, home, path):
    return {
        "HOME": home,
        "PATH": path,
        "LC_ALL": "C.UTF-8",
        # A cache of its own for each run; the registry and its settings as the user has them.
        "npm_config_cache": os.path.join(home, "cache"),
        "npm_config_userconfig": os.path.join(account.pw_dir, ".npmrc"),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
    }


def scan_npm_audit(args, run=subprocess.run):
    directory = release_dir(args.release)
    try:
        account = pwd.getpwnam(args.user)
    except KeyError:
        raise ScanError("no user %s to run npm audit as" % args.user) from None
    if account.pw_uid == 0:
        raise ScanError("npm audit never runs as root: --user %s is uid 0" % args.user)
    home = tempfile.mkdtemp(prefix="npm-audit.")
    try:
        os.chown(home, account.pw_uid, account.pw_gid)
        kwargs = {}
        if os.geteuid() != account.pw_uid:
            kwargs = {"user": account.pw_uid, "group": account.pw_gid,
                      "extra_groups": os.getgrouplist(account.pw_name, account.pw_gid)}
        proc = run(["npm", "audit", "--omit=dev", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   universal_newlines=True, env=npm_env(account, home, args.path), cwd=directory,
                   timeout=args.timeout, check=False, **kwargs)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    # npm audit exits 1 when it finds something: the report, not the status, tells.
    try:
        return parse_npm_audit(proc.stdout), {"release": directory}
    except ScanError as err:
        # Without a JSON report, npm's last words on stderr say more.
        said = "" if proc.stdout.lstrip().startswith("{") else "; " + (last_lines(proc.stderr) or "nothing on stderr")
        raise ScanError("%s (exit %d%s)" % (err, proc.returncode, said)) from None


# --- commands --------------------------------------------------------------------------------

def last_lines(text, count=2):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return one_line(" ".join(lines[-count:]))


def run_scan(scanner, scan, args, clock=time.time):
    """Run one scan and write its file; the exit status."""
    findings, extra, reason = None, {}, None
    try:
        findings, extra = scan(args)
    except subprocess.TimeoutExpired:
        reason = "%s did not finish within %d s" % (scanner, args.timeout)
    except ScanError as err:
        reason = str(err)
    except OSError as err:
        reason = "cannot run %s: %s" % (scanner, err)
    if reason is not None:
        print("%s scan failed: %s" % (scanner, one_line(reason)), file=sys.stderr)
    else:
        summary = ", ".join("%d %s" % (findings.get(s, 0), s) for s in SEVERITIES[scanner])
        more = "".join("; %s %s" % item for item in sorted(extra.items()))
        print("%s scan finished: %s%s" % (scanner, summary, more), file=sys.stderr)
    text = render(scanner, clock(), findings=findings, reason=reason, hardening_index=extra.get("hardening_index"))
    try:
        write_file_atomic(os.path.join(args.dir, prom_name(scanner)), text)
    except OSError as err:
        print("Failed to write %s in %s: %s" % (prom_name(scanner), args.dir, err), file=sys.stderr)
        return 1
    return 0


def parser():
    top = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    sub = top.add_subparsers(dest="command", required=True)
    lynis = sub.add_parser("lynis")
    lynis.add_argument("--report-file", default="/var/log/lynis-report.dat")
    lynis.add_argument("--log-file", default="/var/log/lynis.log")
    debsecan = sub.add_parser("debsecan")
    debsecan.add_argument("--suite", required=True, help="the Debian codename (trixie, bookworm)")
    debsecan.add_argument("--source", default="", help="where debsecan downloads its data; empty: its own default")
    npm = sub.add_parser("npm-audit")
    npm.add_argument("--release", required=True, help="the current release's directory (a link is followed)")
    npm.add_argument("--user", required=True, help="the user npm runs as (not root)")
    npm.add_argument("--path", default="/usr/local/bin:/usr/bin:/bin", help="PATH for npm and node")
    for command, timeout in ((lynis, 3600), (debsecan, 600), (npm, 600)):
        command.add_argument("--dir", required=True, help="the node exporter's textfile directory")
        command.add_argument("--timeout", type=int, default=timeout, help="seconds the scanner may take")
    return top


SCANS = {"lynis": ("lynis", scan_lynis), "debsecan": ("debsecan", scan_debsecan),
         "npm-audit": ("npm_audit", scan_npm_audit)}


def main(argv=None):
    args = parser().parse_args(argv)
    scanner, scan = SCANS[args.command]
    return run_scan(scanner, scan, args)


if __name__ == "__main__":
    sys.exit(main())
