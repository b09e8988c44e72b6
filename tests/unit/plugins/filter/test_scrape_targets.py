from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.boosterbeacon.infra.plugins.filter.scrape_targets import (
    FilterModule, probe_module_name, probe_modules, scrape_configs)

CA = "/etc/ssl/boosterbeacon-internal/ca.crt"
HOSTVARS = {
    "lb1": {"bb_private_address": "10.0.0.2", "tls_domains": ["shop.example.org", "www.example.org"]},
    "app1": {"bb_private_address": "10.0.0.11", "app_deploy_instances": 2},
    "app2": {"bb_private_address": "10.0.0.12", "app_deploy_metrics_port": 9500},
    "data": {"bb_private_address": "10.0.0.20", "prometheus_exporters_postgres_port": 9188},
    "mon": {"bb_private_address": "10.0.0.30"},
}
FLEET = {"all": ["lb1", "app1", "app2", "data", "mon"], "lb": ["lb1"], "app": ["app1", "app2"],
         "db": ["data"], "cache": ["data"], "monitoring": ["mon"], "ungrouped": []}


def _jobs(configs):
    return {job["job_name"]: job for job in configs}


def _targets(job):
    return [(target, group["labels"]) for group in job["static_configs"] for target in group["targets"]]


def test_every_group_gets_its_job_and_remote_exporters_are_scraped_over_verified_https():
    jobs = _jobs(scrape_configs(FLEET, HOSTVARS, "mon", app_cpus={"app2": 3}))
    assert list(jobs) == ["node", "postgres", "pgbackrest", "redis", "nginx", "app", "blackbox_http"]
    assert _targets(jobs["node"]) == [
        ("10.0.0.2:9100", {"host": "lb1", "__scheme__": "https"}),
        ("10.0.0.11:9100", {"host": "app1", "__scheme__": "https"}),
        ("10.0.0.12:9100", {"host": "app2", "__scheme__": "https"}),
        ("10.0.0.20:9100", {"host": "data", "__scheme__": "https"}),
        # The monitoring host's own exporter: loopback, plain HTTP.
        ("127.0.0.1:9100", {"host": "mon"}),
    ]
    assert jobs["node"]["tls_config"] == {"ca_file": CA}
    # A host's own port variable wins over the default.
    assert _targets(jobs["postgres"]) == [("10.0.0.20:9188", {"host": "data", "__scheme__": "https"})]
    assert _targets(jobs["pgbackrest"]) == [("10.0.0.20:9854", {"host": "data", "__scheme__": "https"})]
    assert _targets(jobs["redis"]) == [("10.0.0.20:9121", {"host": "data", "__scheme__": "https"})]
    assert _targets(jobs["nginx"]) == [("10.0.0.2:9113", {"host": "lb1", "__scheme__": "https"})]


def test_one_app_target_per_pm2_worker_on_consecutive_ports_over_plain_http():
    jobs = _jobs(scrape_configs(FLEET, HOSTVARS, "mon", app_cpus={"app2": "3"}))
    assert _targets(jobs["app"]) == [
        # app_deploy_instances 2.
        ("10.0.0.11:9464", {"host": "app1", "worker": "0"}),
        ("10.0.0.11:9465", {"host": "app1", "worker": "1"}),
        # app_deploy_instances unset (0): one per CPU, from nproc; its own metrics port.
        ("10.0.0.12:9500", {"host": "app2", "worker": "0"}),
        ("10.0.0.12:9501", {"host": "app2", "worker": "1"}),
        ("10.0.0.12:9502", {"host": "app2", "worker": "2"}),
    ]
    assert "tls_config" not in jobs["app"]
    assert jobs["app"]["scheme"] == "http"


def test_an_app_host_without_worker_metrics_has_no_app_target():
    hostvars = dict(HOSTVARS, app2={"bb_private_address": "10.0.0.12", "app_deploy_metrics_port": 0})
    jobs = _jobs(scrape_configs(FLEET, hostvars, "mon"))
    assert {labels["host"] for dummy, labels in _targets(jobs["app"])} == {"app1"}


def test_without_pgbackrest_there_is_no_pgbackrest_job():
    for value in (False, "false", "no"):
        hostvars = dict(HOSTVARS, data={"bb_private_address": "10.0.0.20", "provision_pgbackrest": value})
        assert "pgbackrest" not in _jobs(scrape_configs(FLEET, hostvars, "mon", app_cpus={"app2": 1}))


def test_one_host_in_every_group_scrapes_everything_on_loopback_without_an_address():
    groups = {"all": ["solo"], "lb": ["solo"], "app": ["solo"], "db": ["solo"], "cache": ["solo"], "monitoring": ["solo"]}
    jobs = _jobs(scrape_configs(groups, {"solo": {}}, "solo", app_cpus={"solo": 2}))
    for name in ("node", "postgres", "pgbackrest", "redis", "nginx", "app"):
        assert all(target.startswith("127.0.0.1:") and "__scheme__" not in labels
                   for target, labels in _targets(jobs[name])), name
        assert "tls_config" not in jobs[name]
    assert [t for t, dummy in _targets(jobs["blackbox_http"])] == ["https://127.0.0.1/ready", "https://127.0.0.1/health"]


def test_the_probes_go_through_the_blackbox_exporter_with_the_lb_module():
    job = _jobs(scrape_configs(FLEET, HOSTVARS, "mon", app_cpus={"app2": 1}, blackbox="127.0.0.1:9116",
                               probe_paths=["/ready"]))["blackbox_http"]
    assert job["metrics_path"] == "/probe"
    assert _targets(job) == [("https://10.0.0.2/ready", {"host": "lb1", "module": "lb_lb1", "__param_module": "lb_lb1"})]
    assert job["relabel_configs"] == [
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": "127.0.0.1:9116"},
    ]


def test_an_ipv6_lb_address_is_bracketed_in_the_probe_url():
    hostvars = dict(HOSTVARS, lb1={"bb_private_address": "fd00::2"})
    job = _jobs(scrape_configs(FLEET, hostvars, "mon", app_cpus={"app2": 1}, probe_paths=["/ready"]))["blackbox_http"]
    assert _targets(job)[0][0] == "https://[fd00::2]/ready"


def test_jobs_without_targets_are_left_out():
    groups = {"all": ["mon"], "monitoring": ["mon"]}
    assert [job["job_name"] for job in scrape_configs(groups, {"mon": {}}, "mon")] == ["node"]
    assert "blackbox_http" not in _jobs(scrape_configs(FLEET, HOSTVARS, "mon", app_cpus={"app2": 1}, probe_paths=[]))


def test_a_per_cpu_app_host_without_its_cpu_count_is_an_error_naming_the_fix():
    with pytest.raises(AnsibleFilterError, match="app host app2 is unknown.*set app_deploy_instances"):
        scrape_configs(FLEET, HOSTVARS, "mon")
    with pytest.raises(AnsibleFilterError, match="app host app2 is unknown"):
        scrape_configs(FLEET, HOSTVARS, "mon", app_cpus={"app2": "not a number"})


def test_bad_input_is_an_error_naming_it():
    with pytest.raises(AnsibleFilterError, match="app_deploy_instances of app1 must be a number"):
        scrape_configs(FLEET, dict(HOSTVARS, app1={"bb_private_address": "10.0.0.11", "app_deploy_instances": "two"}), "mon")
    with pytest.raises(AnsibleFilterError, match="bb_private_address is not set for app1"):
        scrape_configs(FLEET, dict(HOSTVARS, app1={}), "mon", app_cpus={"app1": 1, "app2": 1})
    with pytest.raises(AnsibleFilterError, match="expects the groups and hostvars"):
        scrape_configs(["app1"], HOSTVARS, "mon")
    with pytest.raises(AnsibleFilterError, match="monitoring host's inventory name"):
        scrape_configs(FLEET, HOSTVARS, "")


def test_probe_modules_verify_each_lb_name_against_its_ca():
    hostvars = dict(HOSTVARS, lb2={"nginx_server_names": ["beacon.internal"]}, lb3={})
    modules = probe_modules(["lb1", "lb2", "lb3"], hostvars, ca_files={"lb1": "/etc/prometheus/blackbox/lb1-ca.crt"})
    assert modules["lb_lb1"] == {
        "prober": "http",
        "timeout": "5s",
        "http": {"method": "GET", "fail_if_not_ssl": True, "no_follow_redirects": True,
                 "tls_config": {"server_name": "shop.example.org", "ca_file": "/etc/prometheus/blackbox/lb1-ca.crt"}},
    }
    # No local CA copy: the system's trust store (ACME); the name from nginx, else localhost.
    assert modules["lb_lb2"]["http"]["tls_config"] == {"server_name": "beacon.internal"}
    assert modules["lb_lb3"]["http"]["tls_config"] == {"server_name": "localhost"}


def test_a_given_ca_file_and_name_apply_to_every_lb():
    modules = probe_modules(["lb1"], HOSTVARS, ca_files={"lb1": "/x.crt"}, ca_file="/etc/ssl/certs/site-ca.pem",
                            server_name="shop.example.org", timeout="3s")
    assert modules["lb_lb1"]["http"]["tls_config"] == {"server_name": "shop.example.org", "ca_file": "/etc/ssl/certs/site-ca.pem"}
    assert modules["lb_lb1"]["timeout"] == "3s"


def test_module_names_are_safe_for_any_inventory_name():
    assert probe_module_name("lb-1.example.org") == "lb_lb_1_example_org"
    assert probe_modules([], HOSTVARS) == {}


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"scrape_configs", "probe_modules"}
