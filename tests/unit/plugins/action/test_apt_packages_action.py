from __future__ import annotations

from unittest import mock

import pytest

from ansible.errors import AnsibleActionFail
from ansible_collections.boosterbeacon.infra.plugins.action.apt_packages import ActionModule

NOW = 1_800_000_000


def host_says(*pkg_lines, stamp=NOW - 60, auto=()):
    lines = ["arch\tamd64", "stamp\t%d" % stamp, "now\t%d" % NOW]
    lines += ["pkg\t%s\t%s\t%s" % p for p in pkg_lines] + ["auto\t%s" % a for a in auto] + ["done"]
    return dict(rc=0, stdout="\n".join(lines) + "\n", stderr="")


def run(args, probe, check=False, apt_result=None):
    """Runs the action against a faked connection; returns its result, the commands it ran on the
    host (the probe first) and the arguments apt was called with (None when apt did not run)."""
    task = mock.MagicMock(args=args, check_mode=check, diff=False, async_val=0)
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock(),
                          mock.MagicMock())
    action._low_level_execute_command = mock.MagicMock(return_value=probe)
    action._execute_module = mock.MagicMock(return_value=apt_result or dict(changed=True))
    with mock.patch("ansible.plugins.action.ActionBase.run", return_value={}):
        result = action.run(task_vars={})
    called = action._execute_module.call_args
    return result, action._low_level_execute_command.call_args_list, called.kwargs if called else None


def test_everything_present_and_lists_recent_runs_no_apt():
    result, probe, apt = run(dict(name=["nginx", "openssl"], update_cache=True, cache_valid_time=3600),
                             host_says(("ii ", "nginx", "amd64"), ("ii ", "openssl", "amd64")))
    assert apt is None
    assert result["changed"] is False and result["apt_ran"] is False and result["pending"] == []
    assert len(probe) == 1 and probe[0].kwargs["sudoable"] is False  # reading needs no root


def test_a_missing_package_hands_the_whole_task_to_apt():
    result, _commands, apt = run(dict(name=["nginx", "openssl"], install_recommends=False),
                                 host_says(("ii ", "nginx", "amd64")), apt_result=dict(changed=True, stdout="..."))
    assert apt["module_name"] == "ansible.builtin.apt"
    assert apt["module_args"] == dict(name=["nginx", "openssl"], state="present", update_cache=False,
                                      cache_valid_time=0, install_recommends=False)
    assert result["changed"] is True and result["apt_ran"] is True and result["pending"] == ["openssl"]


def test_check_mode_with_a_missing_package_predicts_through_apt():
    # apt runs in the task's check mode and predicts; the action itself changes nothing.
    result, _commands, apt = run(dict(name=["nginx"]), host_says(), check=True, apt_result=dict(changed=True))
    assert apt is not None and result["changed"] is True


def test_check_mode_with_everything_present_reports_no_change():
    result, _commands, apt = run(dict(name=["nginx"]), host_says(("ii ", "nginx", "amd64")), check=True)
    assert apt is None and result["changed"] is False


def test_old_lists_are_refreshed_by_apt_even_when_everything_is_present_and_the_time_kept():
    _result, commands, apt = run(dict(update_cache=True, cache_valid_time=3600), host_says(stamp=NOW - 7200),
                                 apt_result=dict(changed=False, cache_updated=False))
    assert apt["module_args"] == dict(update_cache=True, cache_valid_time=3600)
    # A refresh that changed nothing still counts for cache_valid_time: the stamp apt reads, as root.
    assert "touch /var/lib/apt/periodic/update-success-stamp" in commands[1].args[0]
    assert commands[1].kwargs["sudoable"] is True


@pytest.mark.parametrize("check,apt_result", [(True, dict(changed=True)), (False, dict(failed=True, msg="fetch"))])
def test_no_stamp_without_a_real_refresh(check, apt_result):
    result, commands, apt = run(dict(update_cache=True, cache_valid_time=3600), host_says(stamp=NOW - 7200),
                                check=check, apt_result=apt_result)
    assert apt is not None and len(commands) == 1
    assert result.get("failed") is apt_result.get("failed")


def test_installing_without_a_refresh_writes_no_stamp():
    _result, commands, apt = run(dict(name=["nginx"]), host_says(stamp=NOW - 7200))
    assert apt is not None and len(commands) == 1


def test_a_package_installed_as_a_dependency_goes_to_apt_to_be_marked():
    _result, _commands, apt = run(dict(name=["curl"]), host_says(("ii ", "curl", "amd64"), auto=["curl"]),
                                  apt_result=dict(changed=False))
    assert apt is not None


def test_absent_packages_not_installed_run_no_apt():
    result, _commands, apt = run(dict(name=["telnetd", "rsh-server"], state="absent", purge=True),
                                 host_says(("un ", "telnetd", "amd64")))
    assert apt is None and result["changed"] is False


@pytest.mark.parametrize("probe", [dict(rc=127, stdout="", stderr="dpkg: not found"),
                                   dict(rc=0, stdout="arch\tamd64\n", stderr="")])
def test_a_host_that_cannot_answer_gets_apt(probe):
    result, _commands, apt = run(dict(name=["nginx"]), probe, apt_result=dict(changed=False))
    assert apt is not None and result["apt_ran"] is True and result["pending"] == ["nginx"]


@pytest.mark.parametrize("args,word", [(dict(name=["nginx"], state="latest"), "state"),
                                       (dict(name=["nginx"], upgrade="dist"), "upgrade"),
                                       (dict(cache_valid_time="an hour"), "cache_valid_time")])
def test_bad_arguments_are_refused_naming_the_option(args, word):
    with pytest.raises(AnsibleActionFail, match=word):
        run(args, host_says())
