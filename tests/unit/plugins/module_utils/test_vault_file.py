from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils._vault_file import (
    VaultFileError, atomic_write, quote, set_values)

import yaml

DOC = """---
# kept comment
vault_a: old-a
vault_b: !unsafe 'x{{y'
vault_c: |
  line one
  line two
other: 1
"""


def test_values_set_and_the_rest_kept():
    text, changed = set_values(DOC, {"vault_a": "new a", "vault_c": "new c", "vault_d": "d"})
    assert changed == ["vault_a", "vault_c", "vault_d"]
    assert "# kept comment" in text and "other: 1" in text
    assert yaml.safe_load(text.replace("!unsafe", "")) == {
        "vault_a": "new a", "vault_b": "x{{y", "vault_c": "new c", "other": 1, "vault_d": "d"}


def test_unsafe_tag_kept():
    text, changed = set_values(DOC, {"vault_b": "y{%z"})
    assert changed == ["vault_b"]
    assert "vault_b: !unsafe 'y{%z'" in text.splitlines()


def test_same_value_changes_nothing():
    text, changed = set_values("vault_a: 'v'\n", {"vault_a": "v"})
    assert (text, changed) == ("vault_a: 'v'\n", [])


@pytest.mark.parametrize("value", ["it's", "$(id) `x` ;|&%#@/ \"q\" é", "  lead and trail  ", "a: b # c"])
def test_metacharacters_round_trip(value):
    text = set_values("", {"vault_x": value})[0]
    assert yaml.safe_load(text) == {"vault_x": value}


def test_bad_input_is_named():
    with pytest.raises(VaultFileError, match="not a variable name"):
        set_values("", {"bad-name": "x"})
    with pytest.raises(VaultFileError, match="vault_a is set 2 times"):
        set_values("vault_a: 1\nvault_a: 2\n", {"vault_a": "x"})
    with pytest.raises(VaultFileError, match="line break"):
        quote("a\nb")


def test_atomic_write_keeps_mode(tmp_path):
    path = tmp_path / "vault.yml"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    atomic_write(str(path), b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.listdir(tmp_path) == ["vault.yml"]


def test_atomic_write_new_file_is_private(tmp_path):
    path = tmp_path / "v.yml"
    atomic_write(str(path), b"x")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_atomic_write_failure_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "vault.yml"
    path.write_bytes(b"old")

    def boom(*_):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(str(path), b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["vault.yml"]
