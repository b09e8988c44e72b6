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
import os

import ansible.collections.list
import ansible.plugins.loader
import ansible_mitogen.loaders
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

Base = ansible_mitogen.loaders.strategy_loader.get('linear', class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    pass
