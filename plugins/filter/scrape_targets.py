# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters scrape_configs and probe_modules: what the monitoring host's Prometheus scrapes and
its blackbox exporter probes, worked out from the inventory's groups.

Jobs: node (every host), postgres and pgbackrest (db; pgbackrest only where pgBackRest is used),
redis (cache), nginx (lb), app (one target per PM2 worker of each app host, label worker) and
blackbox_http (each lb's /ready and /health over HTTPS, through nginx). Every target carries label
host=<inventory hostname>. An exporter on the monitoring host itself is scraped on loopback over
plain HTTP, any other over HTTPS verified with the internal CA; the app workers' metrics are
plain HTTP everywhere (the firewall keeps them to the monitoring host)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.boosterbeacon.infra.plugins.filter.topology import _port, address_from

INTERNAL_CA = "/etc/ssl/boosterbeacon-internal/ca.crt"
BLACKBOX = "127.0.0.1:9115"
PROBE_PATHS = ("/ready", "/health")
# job, group, port variable (the exporters role's, as topology.py knows them).
EXPORTER_JOBS = (
    ("node", "all", "prometheus_exporters_node_port"),
    ("postgres", "db", "prometheus_exporters_postgres_port"),
    ("pgbackrest", "db", "prometheus_exporters_pgbackrest_port"),
    ("redis", "cache", "prometheus_exporters_redis_port"),
    ("nginx", "lb", "prometheus_exporters_nginx_port"),
)
_FALSE = (False, "false", "False", "no", "0", 0)


def _hostvars(hostvars, host):
    return hostvars.get(host) or {}


def _uses_pgbackrest(hostvars, host):
    return _hostvars(hostvars, host).get("provision_pgbackrest", True) not in _FALSE


def _target_group(address, port, host, remote, extra=None):
    labels = {"host": host}
    if remote:
        # A scrape config has one scheme; this target's own overrides it.
        labels["__scheme__"] = "https"
    labels.update(extra or {})
    return {"targets": ["%s:%d" % (address, port)], "labels": labels}


def _job(name, groups_of_targets, ca_file):
    job = {"job_name": name, "scheme": "http", "static_configs": groups_of_targets}
    if any(group["labels"].get("__scheme__") == "https" for group in groups_of_targets):
        job["tls_config"] = {"ca_file": ca_file}
    return job


def _workers(hostvars, host, app_cpus):
    """How many PM2 workers the app host runs: app_deploy_instances, or (0) one per CPU."""
    try:
        instances = int(_hostvars(hostvars, host).get("app_deploy_instances") or 0)
    except (TypeError, ValueError):
        raise AnsibleFilterError("app_deploy_instances of %s must be a number, got %r"
                                 % (host, _hostvars(hostvars, host).get("app_deploy_instances")))
    if instances > 0:
        return instances
    try:
        cpus = int((app_cpus or {}).get(host) or 0)
    except (TypeError, ValueError):
        cpus = 0
    if cpus < 1:
        raise AnsibleFilterError(
            "the PM2 worker count of app host %s is unknown: app_deploy_instances is 0 (one per CPU) and no CPU "
            "count was given for it (app_cpus, from nproc on the host); set app_deploy_instances or pass its CPUs" % host)
    return cpus


def _exporter_targets(group, port_name, groups, hostvars, source, job):
    found = []
    for host in groups.get(group) or []:
        if job == "pgbackrest" and not _uses_pgbackrest(hostvars, host):
            continue
        remote = host != source
        found.append(_target_group(address_from(host, hostvars, source), _port(hostvars, host, port_name), host, remote))
    return found


def _app_targets(groups, hostvars, source, app_cpus):
    found = []
    for host in groups.get("app") or []:
        # app_deploy_metrics_port 0: the service exposes no worker metrics.
        if str(_hostvars(hostvars, host).get("app_deploy_metrics_port", "")) == "0":
            continue
        first = _port(hostvars, host, "app_deploy_metrics_port")
        address = address_from(host, hostvars, source)
        for index in range(_workers(hostvars, host, app_cpus)):
            found.append(_target_group(address, first + index, host, False, {"worker": str(index)}))
    return found


def probe_module_name(host):
    """The blackbox module that probes one lb host (its TLS name and CA are its own)."""
    return "lb_" + re.sub(r"[^A-Za-z0-9_]", "_", host)


def _probe_job(groups, hostvars, source, blackbox, paths):
    found = []
    for host in groups.get("lb") or []:
        address = address_from(host, hostvars, source)
        if ":" in address:
            address = "[%s]" % address
        found.append({"targets": ["https://%s%s" % (address, path) for path in paths],
                      "labels": {"host": host, "module": probe_module_name(host),
                                 "__param_module": probe_module_name(host)}})
    return {
        "job_name": "blackbox_http",
        "metrics_path": "/probe",
        "static_configs": found,
        # The URL becomes the probe's target and the instance label; the scrape goes to the exporter.
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": blackbox},
        ],
    }


def scrape_configs(groups, hostvars, monitoring_host, app_cpus=None, ca_file=INTERNAL_CA, blackbox=BLACKBOX,
                   probe_paths=PROBE_PATHS):
    """Prometheus scrape_configs for the inventory, as the monitoring host reaches each host.

    groups, hostvars: the magic variables; monitoring_host: the host Prometheus runs on;
    app_cpus: {app host: CPU count} for app hosts whose app_deploy_instances is 0 (one worker
    per CPU); ca_file: the internal CA on the monitoring host; blackbox: the blackbox exporter's
    host:port; probe_paths: the paths probed on each lb. Jobs without targets are left out."""
    if not isinstance(groups, Mapping) or not isinstance(hostvars, Mapping):
        raise AnsibleFilterError("scrape_configs expects the groups and hostvars magic variables, got %r and %r"
                                 % (type(groups).__name__, type(hostvars).__name__))
    if not monitoring_host:
        raise AnsibleFilterError("scrape_configs needs the monitoring host's inventory name")
    jobs = []
    for job, group, port_name in EXPORTER_JOBS:
        targets = _exporter_targets(group, port_name, groups, hostvars, monitoring_host, job)
        if targets:
            jobs.append(_job(job, targets, ca_file))
    app = _app_targets(groups, hostvars, monitoring_host, app_cpus)
    if app:
        jobs.append(_job("app", app, ca_file))
    if groups.get("lb") and probe_paths:
        jobs.append(_probe_job(groups, hostvars, monitoring_host, blackbox, list(probe_paths)))
    return jobs


def probe_modules(lb_hosts, hostvars, ca_files=None, ca_file="", server_name="", timeout="5s"):
    """Blackbox modules, one per lb host: an HTTPS GET that must answer 2xx, verifying the
    certificate for the lb's name (server_name, else its first tls_domains entry, else its first
    nginx_server_names entry, else localhost) against ca_file, else the lb's own CA copy
    (ca_files[host]: its local CA), else the system's trust store."""
    modules = {}
    for host in lb_hosts or []:
        hv = _hostvars(hostvars, host)
        name = server_name or (list(hv.get("tls_domains") or []) + list(hv.get("nginx_server_names") or []) + ["localhost"])[0]
        tls = {"server_name": str(name)}
        ca = ca_file or (ca_files or {}).get(host)
        if ca:
            tls["ca_file"] = str(ca)
        modules[probe_module_name(host)] = {
            "prober": "http",
            "timeout": timeout,
            "http": {
                "method": "GET",
                "fail_if_not_ssl": True,
                "no_follow_redirects": True,
                "tls_config": tls,
            },
        }
    return modules


class FilterModule(object):
    def filters(self):
        return {"scrape_configs": scrape_configs, "probe_modules": probe_modules}
