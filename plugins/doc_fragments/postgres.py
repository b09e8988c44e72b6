# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  login_host:
    description: Host to connect to; without it, the local Unix socket (peer authentication with O(become_user)).
    type: str
  login_port:
    description: Port.
    type: int
    default: 5432
  login_user:
    description: Role to connect as; default the operating system user.
    type: str
  login_password:
    description: Password; passed to the tools in the environment, never on the command line or in output.
    type: str
  ssl_mode:
    description: libpq sslmode.
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  become_user:
    description: Run the PostgreSQL tools as this system user (for example V(postgres) for peer authentication).
    type: str
"""
