from __future__ import annotations

import subprocess

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils._apt_packages import (
    apt_args, parse_probe, pending, probe_command, refresh_due)

NOW = 1_800_000_000


def params(**kw):
    base = dict(name=[], state="present", update_cache=False, cache_valid_time=0, install_recommends=None, purge=False)
    base.update(kw)
    return base


def answer(status=None, auto=(), stamp=NOW - 60, arch="amd64"):
    return dict(arch=arch, stamp=stamp, now=NOW, status=status or {}, auto=set(auto))


def probe_output(*pkg_lines, stamp=NOW - 60, extra=()):
    lines = ["arch\tamd64", "stamp\t%d" % stamp, "now\t%d" % NOW]
    lines += ["pkg\t%s\t%s\t%s" % p for p in pkg_lines]
    lines += list(extra) + ["done"]
    return "\n".join(lines) + "\n"


def test_the_probe_is_valid_shell_and_quotes_nothing_it_should_not_pass():
    command = probe_command(["nginx", "redis-server", "bad'name", "pkg=1.0"])
    assert subprocess.run(["sh", "-n", "-c", command], check=False).returncode == 0
    assert "bad'name" not in command and "pkg=1.0" not in command  # apt reads those, not the shell
    assert "nginx" in command and "redis-server" in command


def test_the_probe_runs_no_dpkg_query_without_names():
    assert "dpkg-query" not in probe_command([])


def test_parse_reads_status_per_architecture_and_the_auto_marks():
    out = probe_output(("ii ", "libc6", "amd64"), ("un ", "libc6", "i386"), ("ii ", "nginx", "amd64"),
                       extra=["auto\tnginx"])
    got = parse_probe(out)
    assert got["arch"] == "amd64" and got["stamp"] == NOW - 60 and got["now"] == NOW
    assert got["status"]["libc6"] == [("ii ", "amd64"), ("un ", "i386")]
    assert got["auto"] == {"nginx"}


@pytest.mark.parametrize("out", ["", "arch\tamd64\nstamp\t1\nnow\t2\n", "stamp\t1\nnow\t2\ndone\n",
                                 "arch\tamd64\nstamp\tx\nnow\t2\ndone\n"])
def test_an_incomplete_answer_is_no_answer(out):
    assert parse_probe(out) is None


def test_present_and_installed_by_hand_leaves_nothing():
    got = answer({"nginx": [("ii ", "amd64")], "tzdata": [("ii ", "all")], "vim": [("hi ", "amd64")]})
    assert pending(params(name=["nginx", "tzdata", "vim"]), got) == []


@pytest.mark.parametrize("status", [[], [("un ", "amd64")], [("rc ", "amd64")], [("iU ", "amd64")],
                                    [("iF ", "amd64")], [("ii R", "amd64")], [("ii ", "i386")],
                                    [("ri ", "amd64")]])
def test_present_leaves_anything_not_fully_installed_for_this_architecture(status):
    assert pending(params(name=["nginx"]), answer({"nginx": status})) == ["nginx"]


def test_present_leaves_a_package_apt_installed_as_a_dependency():
    # apt marks the packages a task names as installed by hand; a fast path must not skip that.
    got = answer({"curl": [("ii ", "amd64")]}, auto=["curl"])
    assert pending(params(name=["curl"]), got) == ["curl"]


@pytest.mark.parametrize("name", ["nginx=1.26*", "nginx:amd64", "nginx*", "./x.deb", "Nginx"])
def test_names_that_are_not_plain_go_to_apt(name):
    assert pending(params(name=[name]), answer({"nginx": [("ii ", "amd64")]})) == [name]


def test_absent_is_settled_by_not_installed_or_unknown():
    got = answer({"telnetd": [("un ", "amd64")], "rsh-server": [("rc ", "amd64")]})
    assert pending(params(name=["telnetd", "rsh-server", "nis"], state="absent"), got) == []


def test_absent_with_purge_leaves_configuration_files_to_remove():
    got = answer({"rsh-server": [("rc ", "amd64")]})
    assert pending(params(name=["rsh-server"], state="absent", purge=True), got) == ["rsh-server"]


def test_absent_leaves_an_installed_package():
    got = answer({"telnetd": [("ii ", "amd64")]})
    assert pending(params(name=["telnetd"], state="absent"), got) == ["telnetd"]


@pytest.mark.parametrize("kw,stamp,due", [
    (dict(), NOW - 10_000, False),                                   # not asked
    (dict(update_cache=True, cache_valid_time=3600), NOW - 60, False),
    (dict(update_cache=True, cache_valid_time=3600), NOW - 3601, True),
    (dict(update_cache=True), NOW - 1, True),                        # 0: every time, as apt
    (dict(cache_valid_time=3600), NOW - 4000, True),                 # apt refreshes on this alone too
])
def test_refresh_due_reads_the_stamp_as_apt_does(kw, stamp, due):
    assert refresh_due(params(**kw), answer(stamp=stamp)) is due


def test_refresh_due_when_the_host_could_not_say():
    assert refresh_due(params(update_cache=True, cache_valid_time=3600), None) is True
    assert refresh_due(params(name=["nginx"]), None) is False


def test_apt_gets_only_what_the_task_asked():
    assert apt_args(params(update_cache=True, cache_valid_time=3600)) == dict(update_cache=True, cache_valid_time=3600)
    assert apt_args(params(name=["nginx"], install_recommends=False)) == dict(
        name=["nginx"], state="present", update_cache=False, cache_valid_time=0, install_recommends=False)
    assert apt_args(params(name=["telnetd"], state="absent", purge=True))["purge"] is True
