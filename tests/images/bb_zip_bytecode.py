"""Test hosts only: keep the bytecode of modules imported from zip files.

Ansible sends each task's module as a zip that Python imports with zipimport, which compiles
every file of it from source on every run: about a third of a light task's CPU on the host.
With BB_ZIP_BYTECODE set in the environment (the test images set it; the local demo host,
which the deploy benchmark measures, clears it), a file's compiled code is kept under
/var/cache/bb-zip-bytecode (root's, made with the image), keyed by the hash of its source and
the Python version, and reused. Nothing a module does changes: the same source gives the same code.
"""
import os
import sys
import zipimport

CACHE_DIR = os.environ.get("BB_ZIP_BYTECODE_DIR", "/var/cache/bb-zip-bytecode")
_compile_source = zipimport._compile_source


def _renamed(code, filename):
    # Tracebacks name the zip the module came from this time, not the first time.
    consts = tuple(_renamed(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _cached_compile(pathname, source):
    import hashlib
    import marshal

    key = hashlib.sha256(sys.version.encode() + b"\0" + source).hexdigest()
    path = os.path.join(CACHE_DIR, key)
    try:
        with open(path, "rb") as handle:
            return _renamed(marshal.load(handle), pathname)
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = _compile_source(pathname, source)
    try:
        partial = "%s.%d" % (path, os.getpid())
        with open(partial, "wb") as handle:
            marshal.dump(code, handle)
        os.replace(partial, path)
    except OSError:
        pass
    return code


def install():
    # Only a directory of one's own: no one else's compiled code is ever run (a module that
    # runs as another user, with become, compiles as before).
    try:
        os.makedirs(CACHE_DIR, mode=0o700, exist_ok=True)
        if os.stat(CACHE_DIR).st_uid != os.geteuid():
            return
    except OSError:
        return
    zipimport._compile_source = _cached_compile
