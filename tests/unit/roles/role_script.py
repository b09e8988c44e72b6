"""Load a script a role installs on its hosts (roles/<role>/files/<name>.py) as a module, so its
logic is tested here without Ansible; or lay it out as the role installs it, to run it as the host does."""
import importlib.util
import os
import shutil

ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "roles")


def path(role, filename):
    return os.path.join(ROLES, role, "files", filename)


def load(role, filename):
    spec = importlib.util.spec_from_file_location(filename[:-3], path(role, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def install(root, role, filename, code=("module_utils/_common.py",)):
    """Lay the script out in ROOT as its role does on a host: the script, and the collection's
    files it imports under python/ (the roles' own layout); the script's path."""
    plugins = os.path.join(ROLES, "..", "plugins")
    target = os.path.join(str(root), "python", "ansible_collections", "boosterbeacon", "infra", "plugins")
    for name in code:
        os.makedirs(os.path.dirname(os.path.join(target, name)), exist_ok=True)
        shutil.copy(os.path.join(plugins, name), os.path.join(target, name))
    return shutil.copy(path(role, filename), str(root))
