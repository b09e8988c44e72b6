"""Load a script a role installs on its hosts (roles/<role>/files/<name>.py) as a module, so its
logic is tested here without Ansible."""
import importlib.util
import os

ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "roles")


def path(role, filename):
    return os.path.join(ROLES, role, "files", filename)


def load(role, filename):
    spec = importlib.util.spec_from_file_location(filename[:-3], path(role, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
