"""Ansible's linear strategy run through Mitogen, for the scenarios that opt in.

Mitogen keeps one Python interpreter per test host and runs each task's module in it, instead of
shipping and importing the module afresh for every task. Only the docker connection is taken
over: tasks on the controller keep Ansible's local connection (molecule's Docker playbooks waited
on async jobs that Mitogen's local connection never saw finish), except in the nested runs of the
project's playbooks (molecule/_shared/run.yml sets BB_NESTED_RUN=1), which wait on none and
run a third of a deploy's tasks on the controller: each costs about half a second of CPU
less there (bench/mitogen.sh). BB_MITOGEN_LOCAL=0 leaves those to Ansible's local connection.
Every module runs in a fork of that interpreter, as `mitogen_task_isolation: fork` does, so no
task sees what an earlier one imported or failed to import (a library the run installs, such as
python3-cryptography, is then found).
"""
import builtins
import hashlib
import marshal
import os
import sys
import tempfile

import ansible.collections.list
import ansible.plugins.loader
import ansible_mitogen.loaders
import ansible_mitogen.module_finder
import ansible_mitogen.planner
import ansible_mitogen.strategy

NESTED_LOCAL = os.environ.get('BB_NESTED_RUN') == '1' and os.environ.get('BB_MITOGEN_LOCAL') != '0'
ansible_mitogen.strategy.REDIRECTED_CONNECTION_PLUGINS = ('docker', 'local') if NESTED_LOCAL else ('docker',)
ansible_mitogen.planner.NewStylePlanner.should_fork = lambda self: True

# Work every task's worker did afresh, done once here in the playbook's process (this module is
# loaded before the first worker is forked), so each fork inherits it. Same results, less CPU:
# sampled on a run of provision.yml on a provisioned host, about 15 % of the controller's CPU.
# - Mitogen lists every installed collection for each collection module a worker runs (with the
#   full ansible package, 93 collections, each one's meta/runtime.yml parsed): listed once.
COLLECTION_DIRS = tuple(path.decode('utf-8') for path in ansible.collections.list.list_collection_dirs())


def _load_collections(invocation):
    invocation._extra_sys_paths.update(COLLECTION_DIRS)


ansible_mitogen.planner._load_collections = _load_collections
# - Ansible loads every built-in Jinja filter and test plugin the first time a template in a
#   process names one.
ansible.plugins.loader.filter_loader.get('ansible.builtin.bool')
ansible.plugins.loader.test_loader.get('ansible.builtin.success')
# - To find what a module imports, Mitogen compiles the module and every module_utils file it
#   reaches, for each module a run uses (about 70 ms a module, ansible.module_utils.basic and its
#   imports each time): each source is compiled once, and its code kept on disk for the next
#   runs (CODE_DIR). Keyed by the source itself, so an edited file is compiled afresh. Measured on
#   provision.yml again on a provisioned host: 9 % less controller CPU.
CODE_DIR = os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
                        'boosterbeacon-infra', 'mitogen-code-' + sys.implementation.cache_tag)
_CODE = {}


def _compile(source, filename, mode, *args, **kwargs):
    if args or kwargs or not isinstance(source, bytes):
        return builtins.compile(source, filename, mode, *args, **kwargs)
    key = hashlib.sha256(b'\0'.join([filename.encode(), mode.encode(), source])).hexdigest()
    if key not in _CODE:
        try:
            with open(os.path.join(CODE_DIR, key), 'rb') as stored:
                _CODE[key] = marshal.load(stored)
        except (OSError, EOFError, ValueError, TypeError):
            _CODE[key] = builtins.compile(source, filename, mode)
            _store(key, _CODE[key])
    return _CODE[key]


def _store(key, code):
    """Written whole under another name, then renamed: a run beside never reads half a file."""
    try:
        os.makedirs(CODE_DIR, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=CODE_DIR, prefix='.new-', delete=False) as new:
            try:
                marshal.dump(code, new)
            except BaseException:
                os.unlink(new.name)
                raise
        os.replace(new.name, os.path.join(CODE_DIR, key))
    except OSError:
        pass  # a cache that cannot be written costs only the next run's compile


ansible_mitogen.module_finder.compile = _compile

Base = ansible_mitogen.loaders.strategy_loader.get('linear', class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    pass
