from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.boosterbeacon.infra.plugins.filter.topology import (
    FilterModule, address_from, firewall_openings, private_address, remote_networks, upstream_servers)

HOSTVARS = {
    "lb1": {"bb_private_address": "10.0.0.2"},
    "app1": {"bb_private_address": "10.0.0.11"},
    "app2": {"bb_private_address": "10.0.0.12", "app_deploy_port": 3100},
    "data": {"bb_private_address": "10.0.0.20", "postgresql_port": 5433},
    "mon": {"bb_private_address": "10.0.0.30"},
    "solo": {},
}
FLEET = {"all": ["lb1", "app1", "app2", "data", "mon"], "lb": ["lb1"], "app": ["app1", "app2"],
         "db": ["data"], "cache": ["data"], "monitoring": ["mon"], "ungrouped": []}


def test_private_address_names_the_host_and_the_variable_when_missing():
    assert private_address("app1", HOSTVARS) == "10.0.0.11"
    with pytest.raises(AnsibleFilterError, match="bb_private_address is not set for solo"):
        private_address("solo", HOSTVARS)


def test_a_service_on_the_same_host_is_reached_on_loopback_without_an_address():
    assert address_from("solo", HOSTVARS, "solo") == "127.0.0.1"
    assert address_from("data", HOSTVARS, "app1") == "10.0.0.20"


def test_upstream_lists_every_app_host_with_its_own_port():
    assert upstream_servers(FLEET["app"], HOSTVARS, "lb1") == ["10.0.0.11:3000", "10.0.0.12:3100"]
    # An lb that is also an app host reaches itself on loopback.
    assert upstream_servers(["lb1", "app1"], HOSTVARS, "lb1") == ["127.0.0.1:3000", "10.0.0.11:3000"]
    assert upstream_servers([], HOSTVARS, "solo") == ["127.0.0.1:3000"]


def test_the_database_host_opens_its_ports_to_app_and_monitoring_hosts_only():
    openings = firewall_openings("data", FLEET, HOSTVARS)
    mon = ["10.0.0.30/32"]
    assert openings == [
        {"port": 9100, "protocol": "tcp", "sources": mon, "comment": "node exporter, for monitoring"},
        {"port": 5433, "protocol": "tcp", "sources": ["10.0.0.11/32", "10.0.0.12/32", "10.0.0.30/32"], "comment": "PostgreSQL"},
        {"port": 6432, "protocol": "tcp", "sources": ["10.0.0.11/32", "10.0.0.12/32", "10.0.0.30/32"], "comment": "PgBouncer"},
        {"port": 9187, "protocol": "tcp", "sources": mon, "comment": "PostgreSQL exporter, for monitoring"},
        {"port": 9854, "protocol": "tcp", "sources": mon, "comment": "pgBackRest exporter, for monitoring"},
        {"port": 6380, "protocol": "tcp", "sources": ["10.0.0.11/32", "10.0.0.12/32"], "comment": "Redis over TLS"},
        {"port": 9121, "protocol": "tcp", "sources": mon, "comment": "Redis exporter, for monitoring"},
    ]


def test_without_pgbackrest_its_exporter_port_stays_closed():
    hostvars = dict(HOSTVARS, data={"bb_private_address": "10.0.0.20", "provision_pgbackrest": False})
    comments = [o["comment"] for o in firewall_openings("data", FLEET, hostvars)]
    assert "pgBackRest exporter, for monitoring" not in comments
    assert "PostgreSQL exporter, for monitoring" in comments


def test_the_monitoring_host_receives_logs_from_every_other_host():
    assert firewall_openings("mon", FLEET, HOSTVARS) == [
        {"port": 6514, "protocol": "tcp", "sources": ["10.0.0.2/32", "10.0.0.11/32", "10.0.0.12/32", "10.0.0.20/32"],
         "comment": "central logs over TLS, from every host"}]


def test_app_worker_metrics_ports_follow_the_instance_count_or_stay_closed():
    def metrics(hostvars):
        return [o["port"] for o in firewall_openings("app1", FLEET, hostvars) if "metrics" in o["comment"]]
    assert metrics(HOSTVARS) == ["9464-9591"]
    four = {"bb_private_address": "10.0.0.11", "app_deploy_instances": 4, "app_deploy_metrics_port": 9500}
    assert metrics(dict(HOSTVARS, app1=four)) == ["9500-9503"]
    assert metrics(dict(HOSTVARS, app1={"bb_private_address": "10.0.0.11", "app_deploy_metrics_port": 0})) == []


def test_app_hosts_open_the_service_port_to_the_load_balancers():
    assert {"port": 3100, "protocol": "tcp", "sources": ["10.0.0.2/32"], "comment": "the service, for the load balancers"} \
        in firewall_openings("app2", FLEET, HOSTVARS)
    assert firewall_openings("lb1", FLEET, HOSTVARS) == [
        {"port": 9100, "protocol": "tcp", "sources": ["10.0.0.30/32"], "comment": "node exporter, for monitoring"},
        {"port": 9113, "protocol": "tcp", "sources": ["10.0.0.30/32"], "comment": "nginx exporter, for monitoring"}]


def test_one_host_in_every_group_opens_nothing_and_needs_no_address():
    solo = {"all": ["solo"], "lb": ["solo"], "app": ["solo"], "db": ["solo"], "cache": ["solo"], "monitoring": ["solo"]}
    assert firewall_openings("solo", solo, HOSTVARS) == []


def test_a_remote_client_without_an_address_is_a_clear_error():
    groups = {"db": ["data"], "app": ["solo"]}
    with pytest.raises(AnsibleFilterError, match="bb_private_address is not set for solo"):
        firewall_openings("data", groups, HOSTVARS)


def test_remote_networks_leave_out_the_host_itself():
    assert remote_networks(["mon", "lb1"], HOSTVARS, "lb1") == ["10.0.0.30/32"]
    assert remote_networks(["solo"], HOSTVARS, "solo") == []


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {
        "private_address", "address_from", "remote_networks", "upstream_servers", "firewall_openings"}
