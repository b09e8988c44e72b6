# The test hosts' bytecode cache for modules imported from zips (tests/images/bb_zip_bytecode.py):
# the second import of the same source comes from the cache, runs the same, and names the zip it
# came from this time; changed source is compiled again, never served stale.
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


def run(tmp_path, zip_path):
    env = dict(os.environ, BB_ZIP_BYTECODE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", PROGRAM % {"hook": str(HOOK_DIR), "zip": zip_path}],
                         env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    return out[0], out[1], sorted(os.listdir(tmp_path / "cache"))


def test_second_import_comes_from_the_cache_and_names_its_own_zip(tmp_path):
    first = make_zip(tmp_path / "one.zip", 42)
    answer, where, cached = run(tmp_path, first)
    assert (answer, len(cached)) == ("42", 1)
    assert where.startswith(first)
    entry = tmp_path / "cache" / cached[0]
    stamp = entry.stat().st_mtime_ns

    second = make_zip(tmp_path / "two.zip", 42)
    answer, where, again = run(tmp_path, second)
    assert (answer, again) == ("42", cached)
    assert entry.stat().st_mtime_ns == stamp
    assert where.startswith(second)


def test_changed_source_is_compiled_again(tmp_path):
    run(tmp_path, make_zip(tmp_path / "one.zip", 42))
    result = run(tmp_path, make_zip(tmp_path / "two.zip", 43))
    assert (result[0], len(result[2])) == ("43", 2)
