"""Ansible's linear strategy run through Mitogen, for the scenarios that opt in.

Mitogen keeps one Python interpreter per test host and runs each task's module in it, instead of
shipping and importing the module afresh for every task. Only the docker connection is taken
over: tasks on the controller keep Ansible's local connection (molecule's create and destroy wait
on async jobs that Mitogen's local connection never saw finish).
"""
import ansible_mitogen.loaders
import ansible_mitogen.strategy

ansible_mitogen.strategy.REDIRECTED_CONNECTION_PLUGINS = ('docker',)

Base = ansible_mitogen.loaders.strategy_loader.get('linear', class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    pass
