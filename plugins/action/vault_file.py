# -*- coding: utf-8 -*-
# Copyright: BoosterBeacon operators
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action vault_file: set values in an ansible-vault encrypted vars file on the controller,
re-encrypted with the vault secret that opened it (documentation: plugins/modules/vault_file.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import is_encrypted
from ansible.plugins.action import ActionBase
from ansible_collections.boosterbeacon.infra.plugins.module_utils._vault_file import (
    VaultFileError, atomic_write, set_values)


def _read_encrypted(path):
    try:
        with open(path, "rb") as handle:
            b_vaulttext = handle.read()
    except (IOError, OSError) as e:
        raise AnsibleError("Failed to read the vault file %s: %s" % (path, to_text(e)))
    if not is_encrypted(b_vaulttext):
        raise AnsibleError("Failed to update %s: it is not ansible-vault encrypted; encrypt it first "
                           "(ansible-vault encrypt %s)" % (path, path))
    return b_vaulttext


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "values"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        path = self._task.args.get("path")
        values = self._task.args.get("values")
        if not path or not isinstance(values, dict) or not values:
            raise AnsibleError("vault_file needs path and a non-empty dict of values")
        b_vaulttext = _read_encrypted(path)
        vault = self._loader._vault  # the secrets this run was given (--vault-password-file, --ask-vault-pass)
        try:
            b_plain, vault_id, secret = vault.decrypt_and_get_vault_id(b_vaulttext)
            text, changed = set_values(to_text(b_plain), dict((k, to_text(v)) for k, v in values.items()))
        except VaultFileError as e:
            raise AnsibleError("Failed to update %s: %s" % (path, to_text(e)))
        except AnsibleError as e:
            raise AnsibleError("Failed to open %s with this run's vault secret: %s" % (path, to_text(e)))
        result.update(changed=bool(changed), path=path, names=changed)
        if self._task.diff:
            # Names only: the values are what this file protects.
            result["diff"] = {"before": "".join("%s: (old value)\n" % n for n in changed),
                              "after": "".join("%s: (new value)\n" % n for n in changed),
                              "before_header": path, "after_header": path}
        if changed and not self._task.check_mode:
            atomic_write(path, vault.encrypt(to_bytes(text), secret=secret, vault_id=vault_id))
        return result
