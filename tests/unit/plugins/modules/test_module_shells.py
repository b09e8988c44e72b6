# Every module is the same thin shell: a module-level argument spec and a main() that hands it and
# the module's class to _common.run_module, which turns the one error type into fail_json.
from __future__ import annotations

import ast
import inspect

import pytest

from ansible_collections.boosterbeacon.infra.plugins.module_utils import _common
from ansible_collections.boosterbeacon.infra.plugins.modules import artifact_store, health_probe, pg_backup, pm2_process, release_manager

MODULES = [artifact_store, health_probe, pg_backup, pm2_process, release_manager]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_main_is_a_thin_shell(module):
    source = inspect.getsource(module.main)
    assert len(source.rstrip().splitlines()) <= 30
    assert isinstance(module.ARGUMENT_SPEC, dict) and "run_module(" in source and "ARGUMENT_SPEC" in source


def test_the_shell_catches_only_the_one_error_type():
    tree = ast.parse(inspect.getsource(_common.run_module))
    handlers = [h for node in ast.walk(tree) if isinstance(node, ast.Try) for h in node.handlers]
    assert [ast.unparse(h.type) for h in handlers] == ["ModuleError"]


def test_a_failed_health_check_fails_through_the_same_shell(run_module, fake_commands):
    fake_commands.table[("false",)] = (1, "", "")
    result = run_module(health_probe, dict(checks=[dict(type="command", argv=["false"])], retries=1))
    assert result["failed"] is True and result["msg"].startswith("Failed health checks: command false")
    assert result["checks"][0]["ok"] is False and result["commands"] == ["false"]
