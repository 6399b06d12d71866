# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import grp
import hashlib
import os
import pwd

import pytest

from ansible_collections.asgi.uvicorn.plugins.modules import drift
from ansible_collections.asgi.uvicorn.tests.unit.plugins.modules.utils import FailJson, patch_exits, run_main

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@pytest.fixture
def run(monkeypatch):
    patch_exits(monkeypatch)
    return lambda paths, **kw: run_main(drift.main, {"paths": paths}, **kw)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "unit").write_text("[Service]\n")
    (tmp_path / "unit").chmod(0o644)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir").chmod(0o755)
    (tmp_path / "link").symlink_to(tmp_path / "unit")
    return tmp_path


def test_nothing_differs_on_a_host_as_wanted(run, tree):
    result = run([
        {"path": str(tree / "unit"), "checksum": sha1("[Service]\n"), "owner": ME, "group": MY_GROUP, "mode": "0644"},
        {"path": str(tree / "dir"), "state": "directory", "owner": str(os.getuid()), "mode": "755"},
        {"path": str(tree / "gone"), "state": "absent"},
        {"path": str(tree / "link"), "state": "link", "src": str(tree / "unit")},
    ])
    assert result == {"changed": False, "drifted": [], "reasons": {}}


@pytest.mark.parametrize("wanted, reason", [
    ({"name": "unit", "checksum": sha1("[Service]\nUser=x\n")}, "content differs"),
    ({"name": "unit", "checksum": sha1("[Service]\n").upper()}, None),
    ({"name": "unit", "mode": "0600"}, "mode differs"),
    ({"name": "unit", "owner": "0" if os.getuid() else "65534"}, "owner differs"),
    ({"name": "unit", "owner": "no-such-user-here"}, "owner differs"),
    ({"name": "unit", "group": "no-such-group-here"}, "group differs"),
    ({"name": "unit", "state": "directory"}, "not a directory"),
    ({"name": "dir"}, "not a regular file"),
    ({"name": "link"}, "not a regular file"),  # a link is not followed
    ({"name": "missing"}, "missing"),
    ({"name": "missing", "state": "directory"}, "missing"),
    ({"name": "unit", "state": "absent"}, "present"),
    ({"name": "link", "state": "link", "src": "elsewhere"}, "points elsewhere"),
    ({"name": "unit", "state": "link", "src": "elsewhere"}, "not a link"),
    ({"name": "missing", "state": "link", "src": "elsewhere"}, "missing"),
])
def test_each_difference_is_named(run, tree, wanted, reason):
    path = str(tree / wanted.pop("name"))
    result = run([{"path": path, **wanted}])
    assert result["drifted"] == ([path] if reason else [])
    assert result["reasons"] == ({path: reason} if reason else {})
    assert result["changed"] is False


def test_only_the_paths_that_differ_in_the_order_given(run, tree):
    paths = [str(tree / n) for n in ("missing", "unit", "dir")]
    result = run([{"path": paths[0]}, {"path": paths[1], "mode": "0644"}, {"path": paths[2], "mode": "0700"}])
    assert result["drifted"] == [paths[0], paths[2]]


def test_a_mode_that_is_not_octal_fails(run, tree):
    result = run([{"path": str(tree / "unit"), "mode": "u=rw"}], expect=FailJson)
    assert result["msg"] == "paths: the mode of %s must be octal like '0644', got 'u=rw'" % (tree / "unit")


def test_a_relative_path_fails(run):
    result = run([{"path": "etc/x"}], expect=FailJson)
    assert "is not an absolute path" in result["msg"]


def test_a_link_without_its_target_fails(run, tree):
    result = run([{"path": str(tree / "link"), "state": "link"}], expect=FailJson)
    assert "src" in result["msg"]
