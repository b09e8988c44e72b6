#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apt_packages
short_description: Install or remove Debian packages, asking dpkg before starting apt
version_added: 0.2.0
description:
  - Does what M(ansible.builtin.apt) does with the same options, but first asks the host, in one
    shell command without Python, what dpkg has installed, which of the named packages apt marked
    as installed only as a dependency, and when the package lists were last refreshed.
  - When every package is already as wanted (installed, marked as installed by hand, for the
    native architecture or C(all); or, for O(state=absent), not installed) and the lists need no
    refresh, it reports no change and does not start apt. Otherwise it hands the whole task to
    M(ansible.builtin.apt), whose result it returns.
  - Opening apt's cache costs about a second of the host's CPU per task; the question to dpkg a
    hundredth of that. Roles that run many package tasks on hosts already set up spend most of
    their package time there.
  - Names that are not plain package names (a version C(name=1.2), an architecture C(name:i386),
    a wildcard) and virtual packages always go to apt, which knows how to read them.
  - The lists' age is read as apt reads it for O(cache_valid_time), from
    C(/var/lib/apt/periodic/update-success-stamp) or else C(/var/lib/apt/lists).
author: BoosterBeacon operators (@boosterbeacon)
extends_documentation_fragment: [boosterbeacon.infra.attributes, boosterbeacon.infra.attributes.check_and_diff,
                                 boosterbeacon.infra.attributes.debian]
attributes:
  check_mode:
    details:
      - When something is left to do, apt runs in check mode and predicts the change.
  diff_mode:
    details:
      - The diff is apt's, when apt runs.
  idempotent:
    support: full
options:
  name:
    description:
      - The packages, as M(ansible.builtin.apt) takes them.
      - Empty with O(update_cache=true) refreshes the lists only (when older than O(cache_valid_time)).
    type: list
    elements: str
    default: []
  state:
    description: Whether the packages are installed or not.
    type: str
    choices: [present, absent]
    default: present
  update_cache:
    description: Refresh the package lists first when they are older than O(cache_valid_time).
    type: bool
    default: false
  cache_valid_time:
    description: Seconds the lists stay recent enough; C(0) refreshes them every time.
    type: int
    default: 0
  install_recommends:
    description: Install recommended packages too; unset follows the host's apt configuration.
    type: bool
  purge:
    description: With O(state=absent), remove the configuration files too (a package with only
      its configuration left then counts as still there).
    type: bool
    default: false
notes:
  - Upgrades are not its job (use M(ansible.builtin.apt) with C(upgrade), or unattended-upgrades).
seealso:
  - module: ansible.builtin.apt
"""

EXAMPLES = r"""
- name: Refresh the package lists when older than an hour
  boosterbeacon.infra.apt_packages:
    update_cache: true
    cache_valid_time: 3600
  check_mode: false
  changed_when: false

- name: Install nginx and the TLS tools
  boosterbeacon.infra.apt_packages:
    name: [nginx, openssl, ca-certificates]
    state: present
    install_recommends: false

- name: Remove services this host does not need
  boosterbeacon.infra.apt_packages:
    name: [telnetd, rsh-server]
    state: absent
    purge: true
"""

RETURN = r"""
apt_ran:
  description: Whether M(ansible.builtin.apt) ran (something was left to do, or the lists were due).
  returned: always
  type: bool
  sample: false
pending:
  description: The packages dpkg's answer left to apt (empty when apt did not run or ran only to refresh the lists).
  returned: always
  type: list
  elements: str
  sample: [nginx]
msg:
  description: What was decided, when apt did not run.
  returned: when apt did not run
  type: str
  sample: "Nothing to do: every package is present; apt not run"
cache_updated:
  description: Whether the lists were refreshed (apt's own return value).
  returned: when apt ran with update_cache
  type: bool
  sample: true
"""
