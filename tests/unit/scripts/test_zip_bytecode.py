# The test hosts' bytecode cache for modules imported from zips (tests/images/bb_zip_bytecode.py):
# the second import of the same source comes from the cache, runs the same, and names the zip it
# came from this time; changed source is compiled again, never served stale; a cache directory
# of another user is never read or written.
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

HOOK_DIR = Path(__file__).resolve().parents[2] / "images"

PROGRAM = """
import sys, traceback
sys.path.insert(0, %(hook)r)
import bb_zip_bytecode
bb_zip_bytecode.install()
sys.path.insert(0, %(zip)r)
import payload
print(payload.answer())
try:
    payload.fail()
except RuntimeError:
    print(traceback.extract_tb(sys.exc_info()[2])[-1].filename)
"""


def make_zip(path, answer):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("payload.py", "def answer():\n    return %d\n\n\ndef fail():\n    raise RuntimeError('x')\n" % answer)
    return str(path)


def run(cache, zip_path):
    """What the payload answered and the file its traceback names."""
    env = dict(os.environ, BB_ZIP_BYTECODE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", PROGRAM % {"hook": str(HOOK_DIR), "zip": zip_path}],
                         env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    return out[0], out[1]


def test_second_import_comes_from_the_cache_and_names_its_own_zip(tmp_path):
    cache = tmp_path / "cache"
    first = make_zip(tmp_path / "one.zip", 42)
    answer, where = run(cache, first)
    cached = os.listdir(cache)
    assert (answer, len(cached)) == ("42", 1)
    assert where.startswith(first)
    stamp = (cache / cached[0]).stat().st_mtime_ns

    second = make_zip(tmp_path / "two.zip", 42)
    answer, where = run(cache, second)
    assert (answer, os.listdir(cache)) == ("42", cached)
    assert (cache / cached[0]).stat().st_mtime_ns == stamp
    assert where.startswith(second)


def test_changed_source_is_compiled_again(tmp_path):
    cache = tmp_path / "cache"
    run(cache, make_zip(tmp_path / "one.zip", 42))
    assert run(cache, make_zip(tmp_path / "two.zip", 43))[0] == "43"
    assert len(os.listdir(cache)) == 2


def test_a_cache_directory_of_another_user_is_not_used(tmp_path):
    if os.geteuid() == 0:
        cache = tmp_path / "cache"
        cache.mkdir(mode=0o700)
        os.chown(cache, 65534, 65534)
    else:
        cache = Path("/usr")  # root's: not this user's to fill
    before = sorted(os.listdir(cache))
    assert run(cache, make_zip(tmp_path / "one.zip", 42))[0] == "42"
    assert sorted(os.listdir(cache)) == before
