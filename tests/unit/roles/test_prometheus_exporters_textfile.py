# roles/prometheus_exporters' textfile collectors: the status files of pgbackrest and pg_dumps in
# the formats their READMEs give, certificates made by the real openssl, and the process list a
# stand-in PM2 daemon gives over its socket; the real tools run on a provisioned host.
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

import role_script


tf = role_script.load("prometheus_exporters", "boosterbeacon_textfile.py")


def samples(text):
    """{'name{labels}': value} of an exposition text, comments skipped."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


PGBACKREST = {
    "ok": True, "problems": [], "stanza": "boosterbeacon", "updated": "2026-11-30T09:40:05Z",
    "backup": {"type": "diff", "result": "ok", "finished": "2026-11-30T09:39:01Z", "repos": {}},
    "verify": {"result": "ok", "finished": "2026-11-29T05:00:10Z", "repos": {}},
    "latest_backups": {
        "1": {"label": "x", "type": "diff", "result": "ok", "stop_epoch": 1795857541},
        "2": {"label": "y", "type": "full", "result": "ok", "stop_epoch": 1795850000},
    },
    "latest_backups_error": None,
}

PG_DUMPS = {
    "ok": False, "problems": ["boosterbeacon: the last verify failed"], "updated": "2026-11-30T04:30:07Z",
    "databases": {
        "boosterbeacon": {"backups": 9,
                          "latest_backup": {"name": "a", "created": "2026-11-30T02:30:00Z", "age_s": 1, "verified": False},
                          "latest_verification": {"name": "b", "verified_at": "2026-11-29T04:30:05Z", "age_s": 2}},
        "other": {"backups": 2,
                  "latest_backup": {"name": "c", "created": "2026-11-30T02:31:00Z", "age_s": 1, "verified": True},
                  "latest_verification": {"name": "c", "verified_at": "2026-11-30T04:31:00Z", "age_s": 2}},
    },
}


def test_epoch_of():
    assert tf.epoch_of("2026-11-30T09:40:05Z") == 1796031605.0
    assert tf.epoch_of("2026-11-30T09:40:05+01:00") == 1796031605.0 - 3600
    assert tf.epoch_of("2026-11-30T09:40:05") == 1796031605.0
    for bad in (None, "", "yesterday", 12):
        assert tf.epoch_of(bad) is None


def test_pgbackrest_oldest_repository_and_verify():
    assert tf.pgbackrest_times(PGBACKREST) == (1795850000.0, tf.epoch_of("2026-11-29T05:00:10Z"))


@pytest.mark.parametrize("change, expected", [
    ({"verify": {"result": "error", "finished": "2026-11-29T05:00:10Z"}}, (1795850000.0, None)),
    ({"verify": None}, (1795850000.0, None)),
    ({"latest_backups": {"1": {"result": "error", "stop_epoch": 5}, "2": {}}}, (None, tf.epoch_of("2026-11-29T05:00:10Z"))),
    ({"latest_backups": None}, (None, tf.epoch_of("2026-11-29T05:00:10Z"))),
])
def test_pgbackrest_without_a_good_backup_or_verify(change, expected):
    assert tf.pgbackrest_times(dict(PGBACKREST, **change)) == expected


def test_pg_dumps_oldest_database():
    assert tf.pg_dumps_times(PG_DUMPS) == (tf.epoch_of("2026-11-30T02:30:00Z"), tf.epoch_of("2026-11-29T04:30:05Z"))


def test_pg_dumps_a_database_never_verified_has_no_verified_time():
    status = json.loads(json.dumps(PG_DUMPS))
    status["databases"]["other"]["latest_verification"] = None
    assert tf.pg_dumps_times(status) == (tf.epoch_of("2026-11-30T02:30:00Z"), None)
    status["databases"]["other"]["latest_backup"] = None
    assert tf.pg_dumps_times(status) == (None, None)
    assert tf.pg_dumps_times({"databases": {}}) == (None, None)


def test_backup_metrics_fine_failed_and_missing_are_told_apart():
    text = tf.backup_metrics([("pgbackrest", PGBACKREST), ("pg_dumps", PG_DUMPS), ("other", None)]).render()
    got = samples(text)
    assert got['boosterbeacon_backup_ok{tool="pgbackrest"}'] == 1
    assert got['boosterbeacon_backup_status_present{tool="pgbackrest"}'] == 1
    assert got['boosterbeacon_backup_last_success_timestamp_seconds{tool="pgbackrest"}'] == 1795850000
    assert got['boosterbeacon_backup_status_timestamp_seconds{tool="pgbackrest"}'] == tf.epoch_of("2026-11-30T09:40:05Z")
    assert got['boosterbeacon_backup_ok{tool="pg_dumps"}'] == 0
    assert got['boosterbeacon_backup_status_present{tool="pg_dumps"}'] == 1
    assert got['boosterbeacon_backup_problems{tool="pg_dumps"}'] == 1
    assert got['boosterbeacon_backup_ok{tool="other"}'] == 0
    assert got['boosterbeacon_backup_status_present{tool="other"}'] == 0
    assert not [k for k in got if "timestamp" in k and 'tool="other"' in k]
    # One HELP and TYPE per metric, before its samples.
    assert text.count("# TYPE boosterbeacon_backup_ok gauge") == 1
    assert text.index("# TYPE boosterbeacon_backup_ok") < text.index("boosterbeacon_backup_ok{")


def test_ok_must_be_true_itself():
    got = samples(tf.backup_metrics([("pgbackrest", {"ok": "yes"})]).render())
    assert got['boosterbeacon_backup_ok{tool="pgbackrest"}'] == 0


def test_read_status(tmp_path):
    good = tmp_path / "status.json"
    good.write_text(json.dumps(PGBACKREST))
    assert tf.read_status(str(good)) == (PGBACKREST, None)
    assert tf.read_status(str(tmp_path / "none.json"))[1].startswith("no status file")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert tf.read_status(str(broken))[1].startswith("cannot read")
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    assert "no JSON object" in tf.read_status(str(listed))[1]


def test_run_backups_writes_the_file_and_reports_a_missing_status(tmp_path, capsys):
    status = tmp_path / "status.json"
    status.write_text(json.dumps(PG_DUMPS))
    rc = tf.main(["backups", "--dir", str(tmp_path), "--backup", "pg_dumps=%s" % status,
                  "--backup", "pgbackrest=%s" % (tmp_path / "missing.json")])
    assert rc == 0
    assert "pgbackrest: no status file" in capsys.readouterr().err
    got = samples((tmp_path / tf.BACKUP_FILE).read_text())
    assert got['boosterbeacon_backup_status_present{tool="pgbackrest"}'] == 0
    assert got['boosterbeacon_backup_status_present{tool="pg_dumps"}'] == 1
    assert oct(os.stat(tmp_path / tf.BACKUP_FILE).st_mode & 0o777) == "0o644"
    # Written through write_file_atomic (module_utils/_common.py): no temporary file stays behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([tf.BACKUP_FILE, "status.json"])


def test_runs_as_installed_with_the_collections_shared_code_beside_it(tmp_path):
    # The host's python3, nothing of this checkout on its path: what the role installs is all it needs.
    script = role_script.install(tmp_path / "lib", "prometheus_exporters", "boosterbeacon_textfile.py")
    proc = subprocess.run(["/usr/bin/python3", "-I", script, "backups", "--dir", str(tmp_path),
                           "--backup", "pg_dumps=%s" % (tmp_path / "missing.json")], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env={}, check=False)
    assert proc.returncode == 0, proc.stderr
    got = samples((tmp_path / tf.BACKUP_FILE).read_text())
    assert got['boosterbeacon_backup_status_present{tool="pg_dumps"}'] == 0


def test_escape_labels():
    text = tf.Metrics()
    text.add("m", "gauge", "h", 1.5, path='/a"b\\c\nd')
    assert 'm{path="/a\\"b\\\\c\\nd"} 1.5' in text.render()


@pytest.mark.parametrize("line, expected", [
    ("notAfter=Nov 30 12:00:00 2027 GMT\n", 1827576000.0),
    ("notAfter=Dec  1 00:00:05 2027 GMT", 1827619205.0),
])
def test_parse_enddate(line, expected):
    assert tf.parse_enddate(line) == expected


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_certificates_with_real_openssl(tmp_path):
    cert = tmp_path / "server.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "k"), "-out", str(cert), "-days", "10", "-subj", "/CN=t"],
                   check=True, capture_output=True)
    enddate = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", str(cert)],
                             check=True, capture_output=True, text=True).stdout
    (tmp_path / "junk.crt").write_text("not a certificate\n")
    rc = tf.main(["status", "--dir", str(tmp_path), "--certificate", str(cert),
                  "--certificate", str(tmp_path / "junk.crt"), "--certificate", str(tmp_path / "missing.crt")])
    assert rc == 0
    assert samples((tmp_path / tf.BACKUP_FILE).read_text()) == {}
    got = samples((tmp_path / tf.CERTIFICATE_FILE).read_text())
    assert got['boosterbeacon_certificate_expiry_timestamp_seconds{path="%s"}' % cert] == tf.parse_enddate(enddate)
    assert got['boosterbeacon_certificate_readable{path="%s"}' % cert] == 1
    assert got['boosterbeacon_certificate_readable{path="%s"}' % (tmp_path / "junk.crt")] == 0
    assert got['boosterbeacon_certificate_readable{path="%s"}' % (tmp_path / "missing.crt")] == 0
    assert len([k for k in got if k.startswith("boosterbeacon_certificate_expiry")]) == 1


JLIST = [
    {"name": "boosterbeacon", "pm_id": 0, "pid": 10, "monit": {"memory": 52428800, "cpu": 1.5},
     "pm2_env": {"status": "online", "pm_uptime": 1000000, "restart_time": 2, "SECRET": "s3cret"}},
    {"name": "boosterbeacon", "pm_id": 1, "pid": 0, "monit": {"memory": 0, "cpu": 0},
     "pm2_env": {"status": "errored", "pm_uptime": 1000000, "restart_time": 15}},
]


def test_pm2_metrics():
    text = tf.pm2_metrics(JLIST, now=1060.0).render()
    got = samples(text)
    assert got['boosterbeacon_pm2_up{app="boosterbeacon",pm_id="0"}'] == 1
    assert got['boosterbeacon_pm2_up{app="boosterbeacon",pm_id="1"}'] == 0
    assert got['boosterbeacon_pm2_restarts_total{app="boosterbeacon",pm_id="1"}'] == 15
    assert got['boosterbeacon_pm2_memory_bytes{app="boosterbeacon",pm_id="0"}'] == 52428800
    assert got['boosterbeacon_pm2_cpu_percent{app="boosterbeacon",pm_id="0"}'] == 1.5
    assert got['boosterbeacon_pm2_uptime_seconds{app="boosterbeacon",pm_id="0"}'] == 60
    assert got['boosterbeacon_pm2_uptime_seconds{app="boosterbeacon",pm_id="1"}'] == 0
    assert got["boosterbeacon_pm2_collect_timestamp_seconds"] == 1060
    assert got["boosterbeacon_pm2_daemon_up"] == 1
    assert "# TYPE boosterbeacon_pm2_restarts_total counter" in text
    assert "s3cret" not in text


def pm2_args(tmp_path, home):
    return ["pm2", "--dir", str(tmp_path), "--pm2-home", str(home)]


def test_collect_pm2_asks_the_daemon(tmp_path, pm2_daemon):
    pm2_daemon.processes = JLIST
    assert tf.main(pm2_args(tmp_path, pm2_daemon.home)) == 0
    assert pm2_daemon.requests[0][0]["method"] == "getMonitorData"
    got = samples((tmp_path / tf.PM2_FILE).read_text())
    assert got['boosterbeacon_pm2_up{app="boosterbeacon",pm_id="0"}'] == 1
    assert got["boosterbeacon_pm2_daemon_up"] == 1


def test_collect_pm2_failure_leaves_the_file_alone(tmp_path, capsys, pm2_daemon):
    (tmp_path / tf.PM2_FILE).write_text("old\n")
    pm2_daemon.answer = lambda request: [b'j:{"error": "SECRET=x"}', b"s:" + request[1].encode()]
    assert tf.main(pm2_args(tmp_path, pm2_daemon.home)) == 1
    assert (tmp_path / tf.PM2_FILE).read_text() == "old\n"
    assert "Failed to read the PM2 process list" in capsys.readouterr().err


def test_no_daemon_is_reported_without_asking(tmp_path, pm2_daemon):
    os.unlink(os.path.join(pm2_daemon.home, "pm2.pid"))
    assert tf.main(pm2_args(tmp_path, pm2_daemon.home)) == 0
    assert pm2_daemon.requests == []
    got = samples((tmp_path / tf.PM2_FILE).read_text())
    assert got["boosterbeacon_pm2_daemon_up"] == 0
    assert "boosterbeacon_pm2_collect_timestamp_seconds" in got
    # A pid file whose process is gone is no daemon either.
    with open(os.path.join(pm2_daemon.home, "pm2.pid"), "w") as handle:
        handle.write("999999999")
    assert tf.daemon_running(pm2_daemon.home) is False


def test_loop_reads_again(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(tf, "collect_pm2", lambda args: calls.append(args.every))

    def stop(seconds):
        assert 1.0 <= seconds <= 15
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(tf.time, "sleep", stop)
    with pytest.raises(KeyboardInterrupt):
        tf.main(["pm2", "--dir", str(tmp_path), "--pm2-home", "/h", "--every", "15"])
    assert calls == [15, 15]
