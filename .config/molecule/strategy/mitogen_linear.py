"""Ansible's linear strategy run through Mitogen, for the scenarios that opt in.

Mitogen keeps one Python interpreter per test host and runs each task's module in it, instead of
shipping and importing the module afresh for every task. Only the docker connection is taken
over: tasks on the controller keep Ansible's local connection (molecule's create and destroy wait
on async jobs that Mitogen's local connection never saw finish). Every module runs in a fork of
that interpreter, as `mitogen_task_isolation: fork` does, so no task sees what an earlier one
imported or failed to import (a library the run installs, such as python3-cryptography, is then
found).
"""
import ansible_mitogen.loaders
import ansible_mitogen.planner
import ansible_mitogen.strategy

ansible_mitogen.strategy.REDIRECTED_CONNECTION_PLUGINS = ('docker',)
ansible_mitogen.planner.NewStylePlanner.should_fork = lambda self: True

Base = ansible_mitogen.loaders.strategy_loader.get('linear', class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    pass
