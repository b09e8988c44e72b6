from __future__ import annotations

from unittest import mock

import pytest
import yaml

from ansible.errors import AnsibleError
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible_collections.boosterbeacon.infra.plugins.action.vault_file import ActionModule

SECRET = VaultSecret(b"vault-password")


def run(path, values, check=False, diff=False, secret=SECRET):
    task = mock.MagicMock(args={"path": str(path), "values": values}, check_mode=check, diff=diff, async_val=0)
    loader = mock.MagicMock()
    loader._vault = VaultLib([("prod", secret)])
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader, mock.MagicMock(), mock.MagicMock())
    with mock.patch("ansible.plugins.action.ActionBase.run", return_value={}):
        return action.run(task_vars={})


def encrypted(tmp_path, text):
    path = tmp_path / "vault.yml"
    path.write_bytes(VaultLib([("prod", SECRET)]).encrypt(text, secret=SECRET, vault_id="prod"))
    return path


def decrypt(path):
    return VaultLib([("prod", SECRET)]).decrypt(path.read_bytes()).decode()


def test_sets_values_reencrypts_with_the_same_vault_id(tmp_path):
    path = encrypted(tmp_path, "vault_a: old\nother: keep\n")
    result = run(path, {"vault_a": "n'ew $x"}, diff=True)
    assert result["changed"] and result["names"] == ["vault_a"]
    assert path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod")
    assert yaml.safe_load(decrypt(path)) == {"vault_a": "n'ew $x", "other": "keep"}
    assert "n'ew" not in str(result)  # the diff names the variable only
    assert "vault_a" in result["diff"]["after"]


def test_check_mode_predicts_and_writes_nothing(tmp_path):
    path = encrypted(tmp_path, "vault_a: old\n")
    before = path.read_bytes()
    result = run(path, {"vault_a": "new"}, check=True)
    assert result["changed"] and path.read_bytes() == before


def test_unchanged_is_not_changed(tmp_path):
    path = encrypted(tmp_path, "vault_a: 'same'\n")
    before = path.read_bytes()
    assert not run(path, {"vault_a": "same"})["changed"]
    assert path.read_bytes() == before


def test_plain_file_refused(tmp_path):
    path = tmp_path / "vault.yml"
    path.write_text("vault_a: plain\n")
    with pytest.raises(AnsibleError, match="not ansible-vault encrypted"):
        run(path, {"vault_a": "x"})


def test_wrong_secret_and_missing_file_named(tmp_path):
    path = encrypted(tmp_path, "vault_a: old\n")
    with pytest.raises(AnsibleError, match="vault secret"):
        run(path, {"vault_a": "x"}, secret=VaultSecret(b"other"))
    with pytest.raises(AnsibleError, match="Failed to read"):
        run(tmp_path / "missing.yml", {"vault_a": "x"})
    with pytest.raises(AnsibleError, match="non-empty dict"):
        run(path, {})


def test_bad_name_named(tmp_path):
    path = encrypted(tmp_path, "vault_a: old\n")
    with pytest.raises(AnsibleError, match="not a variable name"):
        run(path, {"bad name": "x"})
