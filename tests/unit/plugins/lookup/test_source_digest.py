from __future__ import annotations

import os
import pathlib
import subprocess

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.boosterbeacon.infra.plugins.lookup.source_digest import LookupModule, source_digest


def _tree(root, files):
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return str(root)


@pytest.fixture
def plain(tmp_path):
    return _tree(tmp_path / "src", {"package.json": "{}", "src/server.ts": "listen()", "node_modules/x/index.js": "1"})


def test_the_same_files_give_the_same_digest_wherever_they_are(plain, tmp_path):
    other = _tree(tmp_path / "copy", {"package.json": "{}", "src/server.ts": "listen()"})
    assert source_digest(plain) == source_digest(other)


def test_content_names_and_the_executable_bit_change_it(plain):
    before = source_digest(plain)
    with open(os.path.join(plain, "src/server.ts"), "a") as handle:
        handle.write("// one line")
    changed = source_digest(plain)
    assert changed != before
    os.rename(os.path.join(plain, "src/server.ts"), os.path.join(plain, "src/main.ts"))
    renamed = source_digest(plain)
    assert renamed != changed
    os.chmod(os.path.join(plain, "src/main.ts"), 0o755)
    assert source_digest(plain) != renamed


def test_node_modules_and_excluded_build_output_do_not_count(plain):
    before = source_digest(plain, ["dist/*"])
    _tree(pathlib.Path(plain), {"node_modules/y/index.js": "2", "dist/server.js": "built"})
    assert source_digest(plain, ["dist/*"]) == before
    assert source_digest(plain) != before


def test_in_git_ignored_files_do_not_count_and_untracked_ones_do(tmp_path):
    root = _tree(tmp_path / "repo", {".gitignore": "dist/\n", "package.json": "{}"})
    subprocess.run(["git", "init", "-q", root], check=True)
    subprocess.run(["git", "-C", root, "add", "."], check=True)
    before = source_digest(root)
    _tree(tmp_path / "repo", {"dist/server.js": "built"})
    assert source_digest(root) == before
    _tree(tmp_path / "repo", {"src/new.ts": "new"})
    assert source_digest(root) != before
    os.remove(os.path.join(root, "src/new.ts"))
    os.remove(os.path.join(root, "package.json"))  # still in git's index, gone from the tree
    assert source_digest(root) != before


def test_a_link_counts_by_its_target(plain):
    os.symlink("package.json", os.path.join(plain, "link.json"))
    first = source_digest(plain)
    os.remove(os.path.join(plain, "link.json"))
    os.symlink("src/server.ts", os.path.join(plain, "link.json"))
    assert source_digest(plain) != first


def test_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(AnsibleLookupError, match="is not a directory"):
        source_digest(str(tmp_path / "nowhere"))


def test_the_lookup_returns_one_digest_per_directory(plain, tmp_path):
    other = _tree(tmp_path / "b", {"a": "b"})
    lookup = LookupModule()
    assert lookup.run([plain, other]) == [source_digest(plain), source_digest(other)]
    assert lookup.run([plain], exclude=["src/*"]) == [source_digest(plain, ["src/*"])]
    with pytest.raises(AnsibleLookupError, match="exclude must be a list"):
        lookup.run([plain], exclude="src/*")
    with pytest.raises(AnsibleLookupError, match="unknown options excludes"):
        lookup.run([plain], excludes=["src/*"])
