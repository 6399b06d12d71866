# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release id's digest: the same as the shell pipeline it replaced, and sensitive to content."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.asgi.uvicorn.plugins.lookup.source_digest import source_digest

PIPELINE = ("find . -type f ! -path '*/__pycache__/*' ! -path './.git/*' ! -name '*.pyc' -print0 | "
            "LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "app"
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "main.py").write_text("app = 1\n")
    (root / "pkg" / "a b.py").write_text("x = 'ü'\n")
    (root / "pkg" / "B.txt").write_bytes(b"\x00\xff")
    (root / "pkg" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"cache")
    (root / "stale.pyc").write_bytes(b"cache")
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils")
def test_equals_the_shell_pipeline(tree):
    expected = subprocess.run(PIPELINE, shell=True, cwd=tree, capture_output=True, text=True, check=True).stdout
    assert source_digest(str(tree)) == expected.strip()


def test_ignores_caches_and_git_but_not_content(tree):
    before = source_digest(str(tree))
    (tree / "pkg" / "__pycache__" / "other.pyc").write_bytes(b"more cache")
    (tree / ".git" / "index").write_bytes(b"index")
    assert source_digest(str(tree)) == before
    (tree / "main.py").write_text("app = 2\n")
    assert source_digest(str(tree)) != before


def test_a_renamed_file_changes_the_digest(tree):
    before = source_digest(str(tree))
    (tree / "pkg" / "B.txt").rename(tree / "pkg" / "C.txt")
    assert source_digest(str(tree)) != before


def test_a_file_is_its_sha256(tmp_path):
    wheel = tmp_path / "app-1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    assert source_digest(str(wheel)) == hashlib.sha256(b"wheel").hexdigest()


def test_a_missing_path_fails_clearly(tmp_path):
    with pytest.raises(AnsibleLookupError, match="neither a directory nor a file"):
        source_digest(str(tmp_path / "missing"))
