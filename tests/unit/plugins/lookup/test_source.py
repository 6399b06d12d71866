# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One walk of a source directory: the release id's digest and the archive sent to the host hold the
same files, the default excludes and the user's own leave out the same paths from both."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.asgi.uvicorn.plugins.lookup.source import excluded, source

# What the digest equals: sha256sum over the kept files, sorted by bytes.
PIPELINE = ("find . -type f ! -path '*/__pycache__/*' ! -path './.git/*' ! -path './.venv/*' ! -name .env "
            "! -path './node_modules/*' ! -path './local/*' ! -name '*.pyc' -print0 | "
            "LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1")
KEPT = ["./B.txt", "./main.py", "./pkg/a b.py", "./pkg/env.py", "./pkg/local/x.py"]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "app"
    for folder in ("pkg/__pycache__", "pkg/local", ".git", ".venv/bin", "node_modules/x", "local"):
        (root / folder).mkdir(parents=True)
    (root / "main.py").write_text("app = 1\n")
    (root / "B.txt").write_bytes(b"\x00\xff")
    (root / "pkg" / "a b.py").write_text("x = 'ü'\n")
    (root / "pkg" / "env.py").write_text("# a module, not an env file\n")
    (root / "pkg" / "local" / "x.py").write_text("# deeper than the pattern local/ names\n")
    (root / "pkg" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"cache")
    (root / "stale.pyc").write_bytes(b"cache")
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / "node_modules" / "x" / "index.js").write_text("1\n")
    (root / "local" / "notes.txt").write_text("mine\n")
    (root / "link.py").symlink_to(root / "main.py")
    return root


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils")
def test_digest_equals_the_shell_pipeline_over_the_kept_files(tree, tmp_path):
    expected = subprocess.run(PIPELINE, shell=True, cwd=tree, capture_output=True, text=True, check=True).stdout
    assert source(str(tree), ["/local/"], str(tmp_path / "out"))["digest"] == expected.strip()


def test_the_archive_holds_exactly_the_digested_files(tree, tmp_path):
    out = tmp_path / "out"
    found = source(str(tree), ["/local/"], str(out))
    assert found["archive"] == str(out / (found["digest"] + ".tar.gz"))
    with tarfile.open(found["archive"]) as tar:
        assert sorted(tar.getnames()) == KEPT
        assert tar.extractfile("./main.py").read() == b"app = 1\n"
    assert [p.name for p in out.iterdir()] == [found["digest"] + ".tar.gz"]  # no partial file left


def test_an_excluded_file_never_changes_the_digest_and_a_kept_one_does(tree, tmp_path):
    before = source(str(tree), [], str(tmp_path / "out"))
    (tree / ".env").write_text("SECRET=2\n")
    (tree / ".git" / "HEAD").write_text("ref: refs/heads/other\n")
    assert source(str(tree), [], str(tmp_path / "out")) == before
    assert source(str(tree), ["local"], str(tmp_path / "out"))["digest"] != before["digest"]
    (tree / "main.py").write_text("app = 2\n")
    assert source(str(tree), [], str(tmp_path / "out"))["digest"] != before["digest"]


def test_the_same_content_is_packed_once(tree, tmp_path):
    first = source(str(tree), [], str(tmp_path / "out"))["archive"]
    mtime = (tmp_path / "out" / first.rsplit("/", 1)[1]).stat().st_mtime_ns
    assert source(str(tree), [], str(tmp_path / "out"))["archive"] == first
    assert (tmp_path / "out" / first.rsplit("/", 1)[1]).stat().st_mtime_ns == mtime


@pytest.mark.parametrize(("rel", "patterns", "expected"), [
    ("pkg/.git", [".git"], True),  # a name pattern matches at any depth
    (".env.production", [".env.*"], True),
    ("docs/build", ["docs/build"], True),  # a path pattern from the top only
    ("pkg/docs/build", ["docs/build"], False),
    ("local", ["/local"], True),
    ("pkg/local", ["/local"], False),
    ("data.sqlite3", ["*.sqlite3"], True),
    ("main.py", [".env", "*.pyc"], False),
])
def test_patterns(rel, patterns, expected):
    assert excluded(rel, patterns) is expected


def test_a_file_is_digested_whole(tmp_path):
    wheel = tmp_path / "app-1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    assert source(str(wheel), [], str(tmp_path / "out")) == {"digest": hashlib.sha256(b"wheel").hexdigest(),
                                                             "archive": None}


def test_a_missing_path_is_an_error(tmp_path):
    with pytest.raises(AnsibleLookupError, match="neither a directory nor a file"):
        source(str(tmp_path / "missing"), [], str(tmp_path / "out"))
