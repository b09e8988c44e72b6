# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters private_address, address_from, remote_networks, upstream_servers and firewall_openings: how the
inventory's groups (lb, app, db, cache, monitoring) reach each other when they are separate hosts.

Each host other hosts reach has bb_private_address in the inventory. A service on the same host
is reached on loopback, so a one-host inventory needs no address at all."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

LOOPBACK = "127.0.0.1"
# The roles' default ports, used where the inventory does not set the role's variable.
_PORTS = {
    "postgresql_port": 5432,
    "postgresql_pgbouncer_port": 6432,
    "redis_tls_port": 6380,
    "app_deploy_port": 3000,
    "app_deploy_metrics_port": 9464,
    "prometheus_exporters_node_port": 9100,
    "prometheus_exporters_postgres_port": 9187,
    "prometheus_exporters_pgbackrest_port": 9854,
    "prometheus_exporters_redis_port": 9121,
    "prometheus_exporters_nginx_port": 9113,
    "central_logs_port": 6514,
}
# PM2 workers each serve metrics on app_deploy_metrics_port + their index; with
# app_deploy_instances 0 (one per CPU) the count is the host's, unknown here: this many ports.
METRICS_PORTS_PER_CPU_HOST = 128


def _port(hostvars, host, name):
    return int(hostvars.get(host, {}).get(name) or _PORTS[name])


def private_address(host, hostvars):
    """The address other hosts reach this inventory host on (bb_private_address)."""
    address = (hostvars.get(host) or {}).get("bb_private_address")
    if not address:
        raise AnsibleFilterError(
            "bb_private_address is not set for %s: other hosts of the inventory reach it, so give it the "
            "host's private address in the inventory (host_vars or hosts.yml), e.g. bb_private_address: 10.0.0.12" % host)
    return str(address)


def address_from(target, hostvars, source):
    """How source reaches target: loopback on the same host, else target's private address."""
    return LOOPBACK if target == source else private_address(target, hostvars)


def _remote_networks(hosts, hostvars, source):
    """The other hosts' addresses as one-address networks (CIDR), each once."""
    found = []
    for host in hosts or []:
        if host == source:
            continue
        address = private_address(host, hostvars)
        network = "%s/%d" % (address, 128 if ":" in address else 32)
        if network not in found:
            found.append(network)
    return found


def remote_networks(hosts, hostvars, source):
    """The private addresses of hosts other than source, as one-address CIDRs (e.g. who may
    reach nginx's internal paths: the monitoring hosts)."""
    return _remote_networks(hosts, hostvars, source)


def upstream_servers(app_hosts, hostvars, lb_host):
    """host:port of every app host for the lb host's nginx upstream (loopback for itself)."""
    servers = ["%s:%d" % (address_from(host, hostvars, lb_host), _port(hostvars, host, "app_deploy_port"))
               for host in app_hosts or []]
    return servers or ["%s:%d" % (LOOPBACK, _port(hostvars, lb_host, "app_deploy_port"))]


def _metrics_ports(hostvars, host):
    """The app workers' metrics ports as an nftables range (first-last)."""
    first = _port(hostvars, host, "app_deploy_metrics_port")
    workers = int(hostvars.get(host, {}).get("app_deploy_instances") or 0) or METRICS_PORTS_PER_CPU_HOST
    return "%d-%d" % (first, min(first + workers - 1, 65535))


def firewall_openings(host, groups, hostvars):
    """Firewall openings ({port, sources, comment}) this host needs for the other hosts that use
    it: PostgreSQL and PgBouncer for app (and monitoring) hosts, Redis's TLS port for app hosts,
    the service's port for lb hosts, every exporter and the app workers' metrics for monitoring
    hosts, the central log port for every host. Only remote sources; none on a one-host inventory."""
    mine = [name for name, members in groups.items() if host in (members or [])]
    monitoring = list(groups.get("monitoring") or [])
    wanted = [(monitoring, "prometheus_exporters_node_port", "node exporter, for monitoring")]
    if "db" in mine:
        clients = list(groups.get("app") or []) + monitoring
        wanted += [(clients, "postgresql_port", "PostgreSQL"), (clients, "postgresql_pgbouncer_port", "PgBouncer"),
                   (monitoring, "prometheus_exporters_postgres_port", "PostgreSQL exporter, for monitoring")]
        if hostvars.get(host, {}).get("provision_pgbackrest", True) not in (False, "false", "False", "no"):
            wanted.append((monitoring, "prometheus_exporters_pgbackrest_port", "pgBackRest exporter, for monitoring"))
    if "cache" in mine:
        wanted += [(groups.get("app"), "redis_tls_port", "Redis over TLS"),
                   (monitoring, "prometheus_exporters_redis_port", "Redis exporter, for monitoring")]
    if "app" in mine:
        wanted.append((groups.get("lb"), "app_deploy_port", "the service, for the load balancers"))
        # app_deploy_metrics_port 0: the service exposes no worker metrics.
        if str(hostvars.get(host, {}).get("app_deploy_metrics_port", "")) != "0":
            wanted.append((monitoring, _metrics_ports(hostvars, host), "the app workers' metrics, for monitoring"))
    if "lb" in mine:
        wanted.append((monitoring, "prometheus_exporters_nginx_port", "nginx exporter, for monitoring"))
    if "monitoring" in mine:
        wanted.append((groups.get("all") or [], "central_logs_port", "central logs over TLS, from every host"))
    openings = []
    for clients, port, comment in wanted:
        sources = _remote_networks(clients, hostvars, host)
        if sources:
            number = port if "-" in port else _port(hostvars, host, port)
            openings.append({"port": number, "protocol": "tcp", "sources": sources, "comment": comment})
    return openings


class FilterModule(object):
    def filters(self):
        return {"private_address": private_address, "address_from": address_from, "upstream_servers": upstream_servers,
                "remote_networks": remote_networks, "firewall_openings": firewall_openings}
