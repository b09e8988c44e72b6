#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vault_file
short_description: Set values in an ansible-vault encrypted vars file on the controller
version_added: 0.2.0
description:
  - Opens an ansible-vault encrypted YAML vars file with the vault secret the run was given
    (C(--vault-password-file), C(--ask-vault-pass), vault ids), sets top-level variables to new
    string values and encrypts the file again with the same secret and vault id.
  - The file is edited as text, so its comments, order and other values stay as they were; a
    value tagged C(!unsafe) keeps the tag; a new name is appended.
  - The file is replaced atomically (a temporary file in the same directory, then rename), with its mode kept.
  - Runs on the controller only (an action plugin); the values never appear in its result.
author: BoosterBeacon operators (@boosterbeacon)
extends_documentation_fragment: [boosterbeacon.infra.attributes, boosterbeacon.infra.attributes.check_and_diff,
                                 boosterbeacon.infra.attributes.posix]
attributes:
  diff_mode:
    details:
      - The diff names the variables that change, never their values.
  idempotent:
    support: full
options:
  path:
    description: The encrypted vars file on the controller.
    type: path
    required: true
  values:
    description: Variable names and their new string values (single-line).
    type: dict
    required: true
notes:
  - Use C(no_log) on the task, whose arguments hold the new values.
"""

EXAMPLES = r"""
- name: Store the new database password
  boosterbeacon.infra.vault_file:
    path: "{{ inventory_dir }}/group_vars/all/vault.yml"
    values:
      vault_postgresql_app_password: "{{ new_password }}"
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
path:
  description: The file.
  returned: always
  type: str
  sample: inventories/production/group_vars/all/vault.yml
names:
  description: The variables whose values changed (or would change, in check mode).
  returned: always
  type: list
  elements: str
  sample: [vault_postgresql_app_password]
"""
