from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.boosterbeacon.infra.plugins.filter.topology import (
    FilterModule, address_from, firewall_openings, private_address, upstream_servers)

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
    assert openings == [
        {"port": 5433, "protocol": "tcp", "sources": ["10.0.0.11/32", "10.0.0.12/32", "10.0.0.30/32"], "comment": "PostgreSQL"},
        {"port": 6432, "protocol": "tcp", "sources": ["10.0.0.11/32", "10.0.0.12/32", "10.0.0.30/32"], "comment": "PgBouncer"},
        {"port": 6380, "protocol": "tcp", "sources": ["10.0.0.11/32", "10.0.0.12/32"], "comment": "Redis over TLS"},
    ]


def test_app_hosts_open_the_service_port_to_the_load_balancers():
    assert firewall_openings("app2", FLEET, HOSTVARS) == [
        {"port": 3100, "protocol": "tcp", "sources": ["10.0.0.2/32"], "comment": "the service, for the load balancers"}]
    assert firewall_openings("lb1", FLEET, HOSTVARS) == []


def test_one_host_in_every_group_opens_nothing_and_needs_no_address():
    solo = {"all": ["solo"], "lb": ["solo"], "app": ["solo"], "db": ["solo"], "cache": ["solo"]}
    assert firewall_openings("solo", solo, HOSTVARS) == []


def test_a_remote_client_without_an_address_is_a_clear_error():
    groups = {"db": ["data"], "app": ["solo"]}
    with pytest.raises(AnsibleFilterError, match="bb_private_address is not set for solo"):
        firewall_openings("data", groups, HOSTVARS)


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"private_address", "address_from", "upstream_servers", "firewall_openings"}
