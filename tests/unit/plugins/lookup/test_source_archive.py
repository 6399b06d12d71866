# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The app's code in one archive: exactly the files the release id digests, made once per content."""

from __future__ import annotations

import tarfile

from ansible_collections.asgi.uvicorn.plugins.lookup.source_archive import source_archive
from ansible_collections.asgi.uvicorn.plugins.lookup.source_digest import tree_digest


def test_the_archive_holds_the_digested_files_and_is_named_by_them(tmp_path):
    root = tmp_path / "app"
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "main.py").write_text("app = 1\n")
    (root / "pkg" / "a b.py").write_text("x = 2\n")
    (root / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"cache")
    (root / ".git" / "HEAD").write_text("ref\n")
    out = tmp_path / "out"

    path = source_archive(str(root), str(out))

    assert path == str(out / (tree_digest(str(root)) + ".tar.gz"))
    with tarfile.open(path) as tar:
        assert sorted(tar.getnames()) == ["./main.py", "./pkg/a b.py"]
        assert tar.extractfile("./main.py").read() == b"app = 1\n"
    assert [p.name for p in out.iterdir()] == [path.rsplit("/", 1)[1]]  # no partial file left


def test_the_same_content_is_packed_once_and_a_change_gives_another(tmp_path):
    root = tmp_path / "app"
    root.mkdir()
    (root / "main.py").write_text("app = 1\n")
    first = source_archive(str(root), str(tmp_path / "out"))
    mtime = (tmp_path / "out" / first.rsplit("/", 1)[1]).stat().st_mtime_ns
    assert source_archive(str(root), str(tmp_path / "out")) == first
    assert (tmp_path / "out" / first.rsplit("/", 1)[1]).stat().st_mtime_ns == mtime
    (root / "main.py").write_text("app = 2\n")
    assert source_archive(str(root), str(tmp_path / "out")) != first
