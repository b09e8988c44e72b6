# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by modules that drive PostgreSQL's own tools (pg_dump,
pg_restore, psql). The password travels in the environment only: never argv, never output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def postgres_common_argument_spec():
    return dict(
        login_host=dict(type="str"),
        login_port=dict(type="int", default=5432),
        login_user=dict(type="str"),
        login_password=dict(type="str", no_log=True),
        ssl_mode=dict(type="str", default="prefer",
                      choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
        become_user=dict(type="str"),
    )


def libpq_environ(params):
    """Environment for libpq tools; absent options fall back to libpq's defaults (local socket)."""
    env = {"PGPORT": str(params["login_port"]), "PGSSLMODE": params["ssl_mode"], "PGCONNECT_TIMEOUT": "10"}
    if params.get("login_host"):
        env["PGHOST"] = params["login_host"]
    if params.get("login_user"):
        env["PGUSER"] = params["login_user"]
    if params.get("login_password"):
        env["PGPASSWORD"] = params["login_password"]
    if params.get("ssl_rootcert"):
        env["PGSSLROOTCERT"] = params["ssl_rootcert"]
    return env
