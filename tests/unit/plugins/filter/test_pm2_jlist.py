from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.boosterbeacon.infra.plugins.filter.pm2 import FilterModule

pm2_jlist = FilterModule().filters()["pm2_jlist"]


def test_reads_the_list_of_a_first_deploy_whose_jlist_spawned_the_daemon():
    # A freshly provisioned host: the deploy's jlist starts PM2's daemon, nothing runs yet.
    out = ("\x1b[32m[PM2] \x1b[39mSpawning PM2 daemon with pm2_home=/srv/app/.pm2\n"
           "\x1b[32m[PM2] \x1b[39mPM2 Successfully daemonized\n[]\x1b[33m[PM2][WARN] \x1b[39mNo process found\n")
    assert pm2_jlist(out) == []


def test_reads_the_processes():
    assert pm2_jlist('[{"name": "web", "pid": 42}]') == [{"name": "web", "pid": 42}]


def test_no_list_is_an_error_naming_the_filter():
    with pytest.raises(AnsibleFilterError, match="pm2_jlist: no JSON list"):
        pm2_jlist("[PM2] Connection refused\n")
