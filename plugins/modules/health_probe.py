#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: health_probe
short_description: HTTP, TCP, PostgreSQL, Redis, PM2 and command health checks with retries and hints
version_added: 0.1.0
description:
  - Runs a list of checks on the managed host, retrying each until it passes or O(retries) attempts are used.
  - Returns, per check, whether it passed, how many attempts it took, its latency and its last error; on failure,
    a hint saying what to look at next and the tail of O(log_files).
  - PostgreSQL and Redis are checked over their own protocols with the standard library, so the host needs no client
    programs or drivers (PostgreSQL authentication methods trust, password, md5 and scram-sha-256).
  - Changes nothing; runs in check mode too.
author: BoosterBeacon operators (@boosterbeacon)
extends_documentation_fragment: [boosterbeacon.infra.attributes, boosterbeacon.infra.attributes.actiongroup,
                                 boosterbeacon.infra.attributes.info_module, boosterbeacon.infra.attributes.debian]
options:
  checks:
    description: The checks to run, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      type:
        description: What to check.
        type: str
        required: true
        choices: [http, tcp, postgres, redis, pm2, command]
      name:
        description: Name in the report; defaults to the type and target.
        type: str
      url:
        description: URL, for V(http).
        type: str
      method:
        description: HTTP method.
        type: str
        default: GET
      headers:
        description: Request headers.
        type: dict
      body:
        description: Request body.
        type: str
      status:
        description: Accepted HTTP status codes.
        type: list
        elements: int
        default: [200]
      body_contains:
        description: Text the body must contain.
        type: str
      json:
        description: Dotted JSON paths and the values they must have, for example C(checks.postgres.ok=true) as a dict.
        type: dict
      max_latency_ms:
        description: Fail a check that answers slower than this.
        type: int
      validate_certs:
        description: Verify TLS certificates.
        type: bool
        default: true
      ca_path:
        description: CA bundle to verify TLS certificates with, for V(http) (V(postgres) and V(redis) take O(checks[].ca_file)).
        type: path
      host:
        description: Host for V(tcp), V(postgres) (a directory starting with C(/) means a Unix socket) and V(redis).
        type: str
      port:
        description: Port for V(tcp), V(postgres) (default 5432) and V(redis) (default 6379).
        type: int
      user:
        description: PostgreSQL role.
        type: str
      password:
        description: PostgreSQL or Redis password (not logged).
        type: str
      username:
        description: Redis ACL user (without it, AUTH uses the password alone).
        type: str
      database:
        description: PostgreSQL database; defaults to the role name.
        type: str
      ssl:
        description:
          - PostgreSQL TLS, as libpq's sslmode. V(disable) never uses TLS; V(prefer) uses it when the server offers it;
            the other modes fail when the server does not.
          - V(require) encrypts without verifying the server's certificate, even with O(checks[].ca_file) (libpq would
            verify the chain then).
          - V(verify-ca) also verifies that the certificate chains to a CA in O(checks[].ca_file) or, without one, in
            the system's trust store.
          - V(verify-full) also verifies that the certificate names O(checks[].host) (a host name or an IP address in
            its subjectAltName).
          - Connections through a Unix socket never use TLS, as with libpq.
        type: str
        choices: [disable, prefer, require, verify-ca, verify-full]
        default: prefer
      tls:
        description:
          - Redis over TLS, verified like O(checks[].ssl=verify-full) before AUTH and PING are sent. The server's
            certificate must chain to a CA in O(checks[].ca_file) (or the system's trust store) and name
            O(checks[].host).
          - Point O(checks[].port) at the server's TLS port (C(tls-port)).
        type: bool
        default: false
      ca_file:
        description:
          - CA certificates (PEM) on the managed host to verify the server's certificate with, for V(postgres) with
            O(checks[].ssl=verify-ca) or O(checks[].ssl=verify-full) and V(redis) with O(checks[].tls=true); not used
            otherwise.
          - Without it (or empty), the system's trust store.
          - A CA file that is missing or not PEM fails the check and names the file.
        type: path
      app:
        description: PM2 process name, for V(pm2); every instance must be online.
        type: str
      pm2_user:
        description: Account whose PM2 daemon to ask.
        type: str
      pm2_home:
        description: PM2_HOME of that daemon; defaults to C(~pm2_user/.pm2).
        type: path
      min_instances:
        description: Instances that must be online, for V(pm2); V(0) means one per CPU of the host (PM2's C(-i 0)).
        type: int
      argv:
        description: Command to run, for V(command). It should not change anything.
        type: list
        elements: str
      rc:
        description: Expected exit code, for V(command).
        type: int
        default: 0
      stdout_contains:
        description: Text the command's output must contain.
        type: str
      retries:
        description: Overrides O(retries) for this check.
        type: int
      timeout:
        description: Overrides O(timeout) for this check.
        type: int
      blocking:
        description:
          - Whether a failure of this check fails the probe. V(false) only reports it in RV(warned_checks), for
            dependencies whose outage should not stop a deploy (a third-party API, for example).
        type: bool
        default: true
  retries:
    description: Attempts per check.
    type: int
    default: 3
  delay:
    description: Seconds between attempts.
    type: int
    default: 2
  timeout:
    description: Seconds one attempt may take.
    type: int
    default: 5
  log_files:
    description:
      - Files whose last lines are returned when a check fails.
      - The logs PM2 reports for the app of a pm2 check are tailed too, without being listed here.
    type: list
    elements: path
    default: []
  log_lines:
    description: How many lines of each log file.
    type: int
    default: 50
  fail_on_error:
    description: Fail the task when a check fails (the report is still returned). With V(false), return RV(ok=false) instead.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Gate a deploy on the service and its dependencies
  boosterbeacon.infra.health_probe:
    retries: 10
    delay: 3
    log_files: [/srv/boosterbeacon/.pm2/logs/boosterbeacon-error.log]
    checks:
      - type: http
        url: http://127.0.0.1:3000/ready
        json: {status: ready}
        max_latency_ms: 500
      - type: pm2
        app: boosterbeacon
        pm2_user: boosterbeacon
        min_instances: 2
      - type: postgres
        user: boosterbeacon_app
        password: "{{ vault_postgresql_app_password }}"
        database: boosterbeacon
      - type: redis
        username: boosterbeacon
        password: "{{ vault_redis_app_password }}"

- name: Reach the database and the cache on their own host, over TLS signed by an internal CA
  boosterbeacon.infra.health_probe:
    checks:
      - type: postgres
        host: db.internal.example
        user: boosterbeacon_app
        password: "{{ vault_postgresql_app_password }}"
        database: boosterbeacon
        ssl: verify-full
        ca_file: /etc/ssl/boosterbeacon-internal/ca.crt
      - type: redis
        host: db.internal.example
        port: 6380
        tls: true
        ca_file: /etc/ssl/boosterbeacon-internal/ca.crt
        username: boosterbeacon
        password: "{{ vault_redis_app_password }}"
"""

RETURN = r"""
ok:
  description: Whether every blocking check passed.
  returned: always
  type: bool
  sample: false
checks:
  description: One entry per check with name, type, ok, attempts, latency_ms, error and, on failure, a hint; HTTP checks add http_status.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "http http://127.0.0.1:3000/ready", "type": "http", "ok": false, "attempts": 3, "latency_ms": 4.2,
            "http_status": 503, "error": "HTTP 503 (expected [200])", "hint": "The app answers but is unhealthy..."}]
failed_checks:
  description: Names of the blocking checks that failed.
  returned: always
  type: list
  elements: str
  sample: ["http http://127.0.0.1:3000/ready"]
warned_checks:
  description: Names of the non-blocking checks (O(checks[].blocking=false)) that failed.
  returned: always
  type: list
  elements: str
  sample: ["payments api"]
log_tail:
  description: Last lines of each of O(log_files) and of the logs PM2 reports for the apps of pm2 checks, by path.
  returned: when a check failed
  type: dict
  sample: {"/srv/boosterbeacon/.pm2/logs/boosterbeacon-error.log": ["Error: connect ECONNREFUSED 127.0.0.1:5432"]}
duration_ms:
  description: Time all checks took.
  returned: always
  type: float
  sample: 152.3
commands:
  description:
    - Commands run (command checks, and C(pm2 jlist) for a pm2 check whose daemon does not answer on its socket,
      C(PM2_HOME/rpc.sock); a daemon that answers is asked there, with no command).
  returned: always
  type: list
  elements: str
  sample: ["runuser -u boosterbeacon -- /usr/local/bin/pm2 jlist"]
"""


from ansible_collections.boosterbeacon.infra.plugins.module_utils._common import run_module
from ansible_collections.boosterbeacon.infra.plugins.module_utils._health_probe import Prober

CHECK_SPEC = dict(
    type=dict(type="str", required=True, choices=["http", "tcp", "postgres", "redis", "pm2", "command"]),
    name=dict(type="str"), url=dict(type="str"), method=dict(type="str", default="GET"), headers=dict(type="dict"),
    body=dict(type="str"), status=dict(type="list", elements="int", default=[200]), body_contains=dict(type="str"),
    json=dict(type="dict"), max_latency_ms=dict(type="int"), validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"), host=dict(type="str"), port=dict(type="int"), user=dict(type="str"),
    password=dict(type="str", no_log=True), username=dict(type="str"), database=dict(type="str"),
    ssl=dict(type="str", default="prefer", choices=["disable", "prefer", "require", "verify-ca", "verify-full"]),
    tls=dict(type="bool", default=False), ca_file=dict(type="path"), app=dict(type="str"),
    pm2_user=dict(type="str"), pm2_home=dict(type="path"), min_instances=dict(type="int"),
    argv=dict(type="list", elements="str"), rc=dict(type="int", default=0), stdout_contains=dict(type="str"),
    retries=dict(type="int"), timeout=dict(type="int"), blocking=dict(type="bool", default=True),
)
ARGUMENT_SPEC = dict(
    checks=dict(type="list", elements="dict", required=True, options=CHECK_SPEC),
    retries=dict(type="int", default=3),
    delay=dict(type="int", default=2),
    timeout=dict(type="int", default=5),
    log_files=dict(type="list", elements="path", default=[]),
    log_lines=dict(type="int", default=50),
    fail_on_error=dict(type="bool", default=True),
)


def main():
    run_module(Prober, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
