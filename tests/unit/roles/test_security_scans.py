# roles/security_scans' scan script (files/boosterbeacon_security_scan.py), loaded from its file
# as the host runs it. The scanners' outputs are real ones captured on a test host
# (fixtures/security_scans/README.md says how); the scanners themselves run in the role's
# real-host test and the monitoring scenario.
from __future__ import annotations

import json
import os
import pathlib
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import types

import pytest

import role_script

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "security_scans")


scan = role_script.load("security_scans", "boosterbeacon_security_scan.py")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def samples(text):
    """{(name, frozenset(labels)): value} of a .prom file, every line checked against the format."""
    found = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP \w+ \S.*|TYPE \w+ gauge|scan failed: \S.*)$", line), line
            continue
        match = re.match(r'^(\w+)(?:\{((?:\w+="[^"\\\n]*",?)*)\})? (-?[0-9.]+)$', line)
        assert match, line
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        found[(match.group(1), labels)] = float(match.group(3))
    return found


def findings_of(text, scanner):
    return {dict(labels)["severity"]: value for (name, labels), value in samples(text).items()
            if name == "boosterbeacon_security_findings" and dict(labels)["scanner"] == scanner}


def value_of(text, name, scanner):
    return samples(text)[(name, frozenset({("scanner", scanner)}))]


def done(returncode=0, stdout="", stderr=""):
    return subprocess.CompletedProcess([], returncode, stdout, stderr)


def args(tmp_path, **more):
    values = {"dir": str(tmp_path), "timeout": 60}
    values.update(more)
    return types.SimpleNamespace(**values)


# --- the file ---------------------------------------------------------------------------------

def test_a_finished_scan_writes_every_severity_and_ok():
    text = scan.render("npm_audit", 1764550000.5, findings={"high": 2})
    assert findings_of(text, "npm_audit") == {"info": 0, "low": 0, "moderate": 0, "high": 2, "critical": 0}
    assert value_of(text, "boosterbeacon_security_scan_ok", "npm_audit") == 1
    assert value_of(text, "boosterbeacon_security_scan_timestamp_seconds", "npm_audit") == 1764550000.5
    assert "scan failed" not in text


def test_a_failed_scan_writes_no_findings_but_says_why():
    text = scan.render("debsecan", 1764550000, reason="debsecan exited 1:\n  no network")
    assert findings_of(text, "debsecan") == {}
    assert value_of(text, "boosterbeacon_security_scan_ok", "debsecan") == 0
    assert value_of(text, "boosterbeacon_security_scan_timestamp_seconds", "debsecan") == 1764550000
    assert text.splitlines()[0] == "# scan failed: debsecan exited 1: no network"


def test_help_texts_are_the_same_in_every_file():
    # The node exporter merges the three files; a family's HELP must not differ between them.
    helps = set()
    for scanner in scan.SEVERITIES:
        text = scan.render(scanner, 1, findings={}, hardening_index=50 if scanner == "lynis" else None)
        helps |= {line for line in text.splitlines() if line.startswith("# HELP")}
    assert len(helps) == len(scan.HELP)


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool is not installed")
def test_promtool_accepts_the_files():
    for text in (scan.render("lynis", 1764550000, findings={"warning": 4}, hardening_index=69),
                 scan.render("npm_audit", 1764550000, reason="no current release")):
        proc = subprocess.run(["promtool", "check", "metrics"], input=text, universal_newlines=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        assert proc.returncode == 0, proc.stdout


def test_each_run_replaces_its_file_whole_and_world_readable(tmp_path):
    # Written by the collection's write_file_atomic (module_utils/_common.py), which the role installs beside the script.
    old = os.umask(0o077)
    try:
        for high in (1, 2):
            assert scan.run_scan("debsecan", lambda a, high=high: ({"high": high}, {}), args(tmp_path)) == 0
    finally:
        os.umask(old)
    assert os.listdir(tmp_path) == ["boosterbeacon_security_debsecan.prom"]
    path = tmp_path / "boosterbeacon_security_debsecan.prom"
    assert 'boosterbeacon_security_findings{scanner="debsecan",severity="high"} 2' in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_runs_as_installed_with_the_collections_shared_code_beside_it(tmp_path):
    # The host's python3, nothing of this checkout on its path: what the role installs is all it needs.
    script = role_script.install(tmp_path / "lib", "security_scans", "boosterbeacon_security_scan.py")
    out = tmp_path / "textfile"
    out.mkdir()
    proc = subprocess.run(["/usr/bin/python3", "-I", script, "npm-audit", "--dir", str(out), "--user", "nobody",
                           "--release", str(tmp_path / "none")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env={}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "no current release" in proc.stderr
    assert 'boosterbeacon_security_scan_ok{scanner="npm_audit"} 0' in (out / "boosterbeacon_security_npm_audit.prom").read_text()


def test_a_file_that_cannot_be_written_is_the_exit_status(tmp_path, capsys):
    missing = args(tmp_path / "missing")
    assert scan.run_scan("debsecan", lambda a: ({}, {}), missing) == 1
    assert "Failed to write boosterbeacon_security_debsecan.prom" in capsys.readouterr().err


# --- Lynis -------------------------------------------------------------------------------------

def test_lynis_report_from_a_real_audit():
    counts, index = scan.parse_lynis_report(fixture("lynis-report.dat"))
    assert counts == {"warning": 4, "suggestion": 44}
    assert index == 68


def test_a_lynis_report_cut_short_is_no_result():
    text = fixture("lynis-report.dat")
    cut = text[:text.index("report_datetime_end=")]
    with pytest.raises(scan.ScanError, match="no end time"):
        scan.parse_lynis_report(cut)
    without_index = "\n".join(line for line in text.splitlines() if not line.startswith("hardening_index="))
    with pytest.raises(scan.ScanError, match="no hardening index"):
        scan.parse_lynis_report(without_index)


def test_lynis_scan_runs_the_audit_and_reads_its_report(tmp_path, capsys):
    report = tmp_path / "lynis-report.dat"
    calls = []

    def run(argv, **kwargs):
        calls.append((argv, kwargs))
        report.write_text(fixture("lynis-report.dat"))
        return done(0)

    a = args(tmp_path, report_file=str(report), log_file=str(tmp_path / "lynis.log"))
    assert scan.run_scan("lynis", lambda x: scan.scan_lynis(x, run=run), a, clock=lambda: 1764550000) == 0
    argv, kwargs = calls[0]
    assert argv == ["lynis", "audit", "system", "--cronjob", "--quick", "--no-colors",
                    "--report-file", str(report), "--logfile", str(tmp_path / "lynis.log")]
    assert kwargs["stdout"] == subprocess.DEVNULL and kwargs["timeout"] == 60
    text = (tmp_path / "boosterbeacon_security_lynis.prom").read_text()
    assert findings_of(text, "lynis") == {"warning": 4, "suggestion": 44}
    assert samples(text)[("boosterbeacon_lynis_hardening_index", frozenset())] == 68
    assert value_of(text, "boosterbeacon_security_scan_ok", "lynis") == 1
    assert "lynis scan finished: 4 warning, 44 suggestion; hardening_index 68" in capsys.readouterr().err


@pytest.mark.parametrize("outcome, why", [
    (done(1, stderr="Fatal error: PID file exists\n"), "lynis exited 1: Fatal error: PID file exists"),
    ("stale", "lynis did not write"),
    ("timeout", "lynis did not finish within 60 s"),
    (OSError(2, "No such file or directory"), "cannot run lynis"),
])
def test_lynis_failures_are_reported_not_raised(tmp_path, capsys, outcome, why):
    report = tmp_path / "lynis-report.dat"
    report.write_text(fixture("lynis-report.dat"))
    os.utime(report, (1000, 1000))

    def run(argv, **kwargs):
        if outcome == "timeout":
            raise subprocess.TimeoutExpired(argv, 60)
        if isinstance(outcome, Exception):
            raise outcome
        return done(0) if outcome == "stale" else outcome

    a = args(tmp_path, report_file=str(report), log_file=str(tmp_path / "lynis.log"))
    assert scan.run_scan("lynis", lambda x: scan.scan_lynis(x, run=run), a) == 0
    text = (tmp_path / "boosterbeacon_security_lynis.prom").read_text()
    assert value_of(text, "boosterbeacon_security_scan_ok", "lynis") == 0
    assert findings_of(text, "lynis") == {}
    assert "boosterbeacon_lynis_hardening_index" not in text
    assert why in text
    assert "lynis scan failed: " + why in capsys.readouterr().err


# --- debsecan ----------------------------------------------------------------------------------

def test_debsecan_detail_from_a_real_run():
    findings = scan.parse_debsecan_detail(fixture("debsecan-detail.txt"))
    assert len(findings) == 18
    assert findings[0] == {"issue": "CVE-2099-10008", "notes": ["fixed", "medium urgency"],
                           "binary": "bash", "source": "bash"}
    libpq = [f for f in findings if f["binary"] == "libpq5"][0]
    assert libpq["source"] == "postgresql-17"
    assert libpq["notes"] == ["fixed", "remotely exploitable", "medium urgency"]
    assert [f for f in findings if f["issue"] == "CVE-2099-10006"][0]["notes"] == []


def test_debsecan_counts_each_issue_once_per_source_package():
    counts = scan.count_debsecan(scan.parse_debsecan_detail(fixture("debsecan-detail.txt")))
    # openssl's issue in four binary packages is one; redis's and curl's have no fix yet.
    assert counts == {"critical": 1, "high": 3, "medium": 2, "low": 1, "unfixed": 2}


@pytest.mark.parametrize("notes, severity", [
    (["fixed", "remotely exploitable", "high urgency"], "critical"),
    (["fixed", "remotely exploitable", "medium urgency"], "high"),
    (["fixed", "remotely exploitable"], "high"),
    (["fixed", "high urgency"], "high"),
    (["fixed", "medium urgency"], "medium"),
    (["fixed"], "medium"),
    (["fixed", "low urgency"], "low"),
    (["remotely exploitable", "high urgency"], "unfixed"),
    ([], "unfixed"),
])
def test_debsecan_severity(notes, severity):
    assert scan.debsecan_severity(notes) == severity


def test_debsecan_output_it_never_prints_is_no_result():
    with pytest.raises(scan.ScanError, match="never prints"):
        scan.parse_debsecan_detail("CVE-2099-1 (fixed) trailing words\n")
    with pytest.raises(scan.ScanError, match="without an issue"):
        scan.parse_debsecan_detail("  installed: bash 5.2\n")
    with pytest.raises(scan.ScanError, match="no installed package"):
        scan.parse_debsecan_detail("CVE-2099-1 (fixed)\n  a description\n")


def test_debsecan_without_findings_is_a_clean_scan(tmp_path):
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        return done(0, stdout="")

    a = args(tmp_path, suite="trixie", source="")
    assert scan.run_scan("debsecan", lambda x: scan.scan_debsecan(x, run=run), a) == 0
    assert calls == [["debsecan", "--suite", "trixie", "--format", "detail"]]
    text = (tmp_path / "boosterbeacon_security_debsecan.prom").read_text()
    assert findings_of(text, "debsecan") == {"critical": 0, "high": 0, "medium": 0, "low": 0, "unfixed": 0}
    assert value_of(text, "boosterbeacon_security_scan_ok", "debsecan") == 1


def test_debsecan_with_findings_and_its_own_source(tmp_path):
    def run(argv, **kwargs):
        assert argv[-2:] == ["--source", "file:///srv/tracker/"]
        return done(0, stdout=fixture("debsecan-detail.txt"))

    a = args(tmp_path, suite="trixie", source="file:///srv/tracker/")
    assert scan.run_scan("debsecan", lambda x: scan.scan_debsecan(x, run=run), a) == 0
    text = (tmp_path / "boosterbeacon_security_debsecan.prom").read_text()
    assert findings_of(text, "debsecan") == {"critical": 1, "high": 3, "medium": 2, "low": 1, "unfixed": 2}


def test_debsecan_without_the_tracker_says_so(tmp_path, capsys):
    # What a test host prints: Debian's package mirrors are in reach, the tracker is not.
    def run(argv, **kwargs):
        return done(1, stderr=fixture("debsecan-offline.stderr"))

    a = args(tmp_path, suite="trixie", source="")
    assert scan.run_scan("debsecan", lambda x: scan.scan_debsecan(x, run=run), a) == 0
    text = (tmp_path / "boosterbeacon_security_debsecan.prom").read_text()
    why = ("debsecan exited 1: while downloading https://security-tracker.debian.org/tracker/debsecan/release/1/trixie: "
           "[Errno -2] Name or service not known")
    assert "# scan failed: " + why in text
    assert value_of(text, "boosterbeacon_security_scan_ok", "debsecan") == 0
    assert findings_of(text, "debsecan") == {}
    assert "debsecan scan failed: " + why in capsys.readouterr().err


# --- npm audit ---------------------------------------------------------------------------------

def test_npm_audit_counts_from_a_real_report():
    counts = scan.parse_npm_audit(fixture("npm-audit-vulnerable.json"))
    assert counts == {"info": 1, "low": 2, "moderate": 0, "high": 2, "critical": 3}
    assert sum(counts.values()) == json.loads(fixture("npm-audit-vulnerable.json"))["metadata"]["vulnerabilities"]["total"]
    assert scan.parse_npm_audit(fixture("npm-audit-clean.json")) == dict.fromkeys(scan.SEVERITIES["npm_audit"], 0)


@pytest.mark.parametrize("name, why", [
    # The test hosts' registry answers GET only: npm's advisory endpoints (POST) are refused.
    ("npm-audit-405.json", "npm audit failed: 405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/audits/quick"),
    ("npm-audit-refused.json", "connect ECONNREFUSED 127.0.0.1:4999"),
    ("npm-audit-enolock.json", "npm audit failed: ENOLOCK: This command requires an existing lockfile."),
])
def test_npm_audit_errors_name_npms_reason(name, why):
    with pytest.raises(scan.ScanError) as caught:
        scan.parse_npm_audit(fixture(name))
    assert why in str(caught.value)


@pytest.mark.parametrize("text", ["", "npm ERR! something", "[]", '{"metadata": {}}'])
def test_npm_audit_without_a_report_is_no_result(text):
    with pytest.raises(scan.ScanError):
        scan.parse_npm_audit(text)


def release(tmp_path, lockfile=True):
    target = tmp_path / "releases" / "20261201T010203Z"
    target.mkdir(parents=True)
    (target / "package.json").write_text("{}")
    if lockfile:
        (target / "package-lock.json").write_text("{}")
    (tmp_path / "current").symlink_to(target)
    return target


def someone():
    """A user the script may run npm as: nobody when the tests run as root, else the tester."""
    return "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def test_npm_audit_runs_as_the_app_user_in_the_release(tmp_path, capsys):
    target = release(tmp_path)
    out = tmp_path / "textfile"
    out.mkdir()
    seen = {}

    def run(argv, **kwargs):
        seen.update(kwargs, argv=argv, home_existed=os.path.isdir(kwargs["env"]["HOME"]))
        return done(1, stdout=fixture("npm-audit-vulnerable.json"), stderr="")

    a = args(out, release=str(tmp_path / "current"), user=someone(), path="/usr/local/bin:/usr/bin:/bin")
    assert scan.run_scan("npm_audit", lambda x: scan.scan_npm_audit(x, run=run), a) == 0
    account = pwd.getpwnam(someone())
    assert seen["argv"] == ["npm", "audit", "--omit=dev", "--json"]
    assert seen["cwd"] == str(target)
    if os.geteuid() == 0:
        assert seen["user"] == account.pw_uid != 0 and seen["group"] == account.pw_gid
    env = seen["env"]
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["npm_config_cache"].startswith(env["HOME"])
    assert env["npm_config_userconfig"] == os.path.join(account.pw_dir, ".npmrc")
    assert seen["home_existed"] and not os.path.exists(env["HOME"])
    text = (out / "boosterbeacon_security_npm_audit.prom").read_text()
    assert findings_of(text, "npm_audit") == {"info": 1, "low": 2, "moderate": 0, "high": 2, "critical": 3}
    assert value_of(text, "boosterbeacon_security_scan_ok", "npm_audit") == 1
    assert "release %s" % target in capsys.readouterr().err


def test_npm_audit_refused_by_the_registry(tmp_path):
    release(tmp_path)
    out = tmp_path / "textfile"
    out.mkdir()
    stderr = "npm WARN audit 405 Method Not Allowed - POST ...\nnpm ERR! audit endpoint returned an error\n"

    def run(argv, **kwargs):
        return done(1, stdout=fixture("npm-audit-405.json"), stderr=stderr)

    a = args(out, release=str(tmp_path / "current"), user=someone(), path="/usr/bin:/bin")
    scan.run_scan("npm_audit", lambda x: scan.scan_npm_audit(x, run=run), a)
    text = (out / "boosterbeacon_security_npm_audit.prom").read_text()
    assert value_of(text, "boosterbeacon_security_scan_ok", "npm_audit") == 0
    assert findings_of(text, "npm_audit") == {}
    assert "405 Method Not Allowed" in text and text.count("405") == 1


def test_npm_audit_that_prints_no_report_passes_on_its_last_words(tmp_path):
    release(tmp_path)

    def run(argv, **kwargs):
        return done(243, stdout="", stderr="npm ERR! code EACCES\nnpm ERR! permission denied\n")

    a = args(tmp_path, release=str(tmp_path / "current"), user=someone(), path="/usr/bin:/bin")
    with pytest.raises(scan.ScanError, match="exit 243; npm ERR! code EACCES npm ERR! permission denied"):
        scan.scan_npm_audit(a, run=run)


@pytest.mark.parametrize("lockfile, why", [(None, "no current release: "), (False, "has no package-lock.json")])
def test_npm_audit_without_a_release_runs_nothing(tmp_path, lockfile, why):
    if lockfile is not None:
        release(tmp_path, lockfile=lockfile)
    out = tmp_path / "textfile"
    out.mkdir()

    def run(argv, **kwargs):
        raise AssertionError("npm must not run")

    a = args(out, release=str(tmp_path / "current"), user=someone(), path="/usr/bin:/bin")
    assert scan.run_scan("npm_audit", lambda x: scan.scan_npm_audit(x, run=run), a) == 0
    text = (out / "boosterbeacon_security_npm_audit.prom").read_text()
    assert value_of(text, "boosterbeacon_security_scan_ok", "npm_audit") == 0
    assert findings_of(text, "npm_audit") == {}
    assert why in text


@pytest.mark.parametrize("user, why", [("root", "never runs as root"), ("no-such-user-here", "no user no-such-user-here")])
def test_npm_audit_never_as_root_nor_a_missing_user(tmp_path, user, why):
    release(tmp_path)
    a = args(tmp_path, release=str(tmp_path / "current"), user=user, path="/usr/bin:/bin")
    with pytest.raises(scan.ScanError, match=why):
        scan.scan_npm_audit(a, run=lambda *x, **y: pytest.fail("npm must not run"))


@pytest.fixture
def open_tmp():
    """A directory every user may enter (npm runs as nobody when the tests run as root)."""
    path = tempfile.mkdtemp(prefix="security-scans-test.")
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path)


def test_main_runs_a_fake_npm_from_the_given_path(open_tmp):
    # The whole command line, with a stand-in npm (on --path) printing a real report.
    tmp_path = open_tmp
    release(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    report = bin_dir / "report.json"
    report.write_text(fixture("npm-audit-vulnerable.json"))
    npm = bin_dir / "npm"
    npm.write_text('#!/bin/sh\n[ "$*" = "audit --omit=dev --json" ] || exit 9\ncat "%s"\nexit 1\n' % report)
    npm.chmod(0o755)
    for path in (bin_dir, report, tmp_path / "releases", tmp_path / "releases" / "20261201T010203Z"):
        path.chmod(0o755)
    out = tmp_path / "textfile"
    out.mkdir()
    assert scan.main(["npm-audit", "--dir", str(out), "--release", str(tmp_path / "current"),
                      "--user", someone(), "--path", "%s:/usr/bin:/bin" % bin_dir]) == 0
    text = (out / "boosterbeacon_security_npm_audit.prom").read_text()
    assert value_of(text, "boosterbeacon_security_scan_ok", "npm_audit") == 1, text
    assert findings_of(text, "npm_audit")["critical"] == 3
