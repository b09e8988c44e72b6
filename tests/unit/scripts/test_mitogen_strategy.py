# The strategy every Mitogen scenario loads (.config/molecule/strategy/mitogen_linear.py): what
# it does once instead of for every module must give Mitogen the same answers. Here, the code it
# compiles to find a module's imports: the same dependencies found with the cache cold, warm
# from disk, or with no cache at all; an edited source compiled afresh; a damaged or unwritable
# cache costing only a compile. Every Mitogen scenario runs its tasks through it.
from __future__ import annotations

import builtins
import importlib.util
import os
from pathlib import Path

import ansible.collections.list
import ansible.modules
import pytest
from ansible_mitogen import module_finder

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def strategy(tmp_path, monkeypatch):
    # Its list of collections needs Ansible's collection loader, which ansible-playbook installs.
    monkeypatch.setattr(ansible.collections.list, "list_collection_dirs", lambda: [])
    spec = importlib.util.spec_from_file_location("bb_mitogen_linear", ROOT / ".config/molecule/strategy/mitogen_linear.py")
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    monkeypatch.setattr(shim, "CODE_DIR", str(tmp_path / "code"))
    monkeypatch.setattr(shim, "_CODE", {})
    yield shim
    # The strategy replaces Mitogen's compile for the whole process: put the built-in one back.
    module_finder.compile = builtins.compile


def scan(module):
    path = os.path.join(os.path.dirname(ansible.modules.__file__), module + ".py")
    builtin = os.path.join(os.path.dirname(os.path.dirname(ansible.modules.__file__)), "module_utils")
    return module_finder.scan(module_name="ansible.modules." + module, module_path=path, search_path=(builtin,))


def test_a_module_s_dependencies_are_the_same_without_the_cache_cold_and_warm(strategy):
    module_finder.compile = builtins.compile
    plain = scan("systemd_service")
    assert "ansible.module_utils.basic" in [found[0] for found in plain]

    module_finder.compile = strategy._compile
    cold = scan("systemd_service")
    stored = os.listdir(strategy.CODE_DIR)
    # The module and each module_utils file it reaches, one file each; nothing half written left.
    assert len([name for name in stored if not name.startswith(".")]) == len(plain) + 1
    assert not [name for name in stored if name.startswith(".")]

    strategy._CODE.clear()
    warm = scan("systemd_service")
    assert plain == cold == warm


def test_each_source_is_compiled_once_per_run(strategy, monkeypatch):
    compiled = []
    real = builtins.compile
    monkeypatch.setattr(builtins, "compile", lambda *a, **k: compiled.append(a[1]) or real(*a, **k))
    scan("command")
    scan("stat")
    # Both reach ansible.module_utils.basic and its imports: compiled for the first only.
    assert len(compiled) == len(set(compiled))
    assert "ansible.module_utils.basic" in compiled


def test_an_edited_source_is_compiled_afresh(strategy):
    before = strategy._compile(b"import json\n", "m", "exec")
    after = strategy._compile(b"import yaml\n", "m", "exec")
    assert before.co_names == ("json",) and after.co_names == ("yaml",)
    strategy._CODE.clear()
    assert strategy._compile(b"import yaml\n", "m", "exec").co_names == ("yaml",)


def test_a_damaged_cache_file_is_compiled_again_and_replaced(strategy):
    strategy._compile(b"import json\n", "m", "exec")
    (stored,) = Path(strategy.CODE_DIR).iterdir()
    stored.write_bytes(b"\x00not marshal data")
    strategy._CODE.clear()
    assert strategy._compile(b"import json\n", "m", "exec").co_names == ("json",)
    strategy._CODE.clear()
    assert stored.read_bytes() != b"\x00not marshal data"
    assert strategy._compile(b"import json\n", "m", "exec").co_names == ("json",)


def test_a_cache_that_cannot_be_written_costs_only_the_compile(strategy, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(strategy, "CODE_DIR", str(tmp_path / "a-file" / "code"))
    assert strategy._compile(b"import json\n", "m", "exec").co_names == ("json",)
