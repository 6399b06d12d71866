# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""asgi.uvicorn.files on a real directory tree: what differs, what is made, what is refused."""

from __future__ import annotations

import base64
import grp
import os
import pwd
import stat

import pytest

from ansible_collections.asgi.uvicorn.plugins.modules import files
from ansible_collections.asgi.uvicorn.tests.unit.plugins.modules.utils import FailJson, patch_exits, run_main

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def run(monkeypatch):
    patch_exits(monkeypatch)

    def run(entries, expect=None, **args):
        extra = {"_ansible_%s" % k: v for k, v in args.items()}
        return run_main(files.main, {"files": entries, **extra}, **({"expect": expect} if expect else {}))
    return run


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "unit").write_text("[Service]\n")
    (tmp_path / "unit").chmod(0o644)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir").chmod(0o755)
    (tmp_path / "link").symlink_to(tmp_path / "unit")
    return tmp_path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_nothing_is_written_on_a_host_as_wanted(run, tree):
    result = run([
        {"path": str(tree / "unit"), "content": "[Service]\n", "owner": ME, "group": MY_GROUP, "mode": "0644"},
        {"path": str(tree / "dir"), "state": "directory", "owner": str(os.getuid()), "mode": "755"},
        {"path": str(tree / "gone"), "state": "absent"},
        {"path": str(tree / "link"), "state": "link", "src": str(tree / "unit")},
    ])
    assert result == {"changed": False, "written": [], "removed": [], "drifted": [], "reasons": {}}


@pytest.mark.parametrize("wanted, reason", [
    ({"name": "unit", "content": "[Service]\nUser=x\n"}, "content differs"),
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
def test_each_difference_is_named_and_check_only_writes_nothing(run, tree, wanted, reason):
    path = str(tree / wanted.pop("name"))
    before = sorted(os.listdir(tree)), (tree / "unit").read_text(), mode(tree / "unit")
    result = run([{"path": path, "check_only": True, **wanted}])
    assert result["drifted"] == [path] and result["reasons"] == {path: reason}
    assert result["written"] == [] and result["changed"] is False
    assert (sorted(os.listdir(tree)), (tree / "unit").read_text(), mode(tree / "unit")) == before


def test_each_kind_of_path_is_made_as_wanted(run, tree):
    result = run([
        {"path": str(tree / "new"), "state": "directory", "mode": "0750"},
        {"path": str(tree / "deep" / "er"), "state": "directory"},
        {"path": str(tree / "new" / "env"), "private_content": b64("SECRET=1\n"), "mode": "0640"},
        {"path": str(tree / "unit"), "content": "[Service]\nUser=x\n"},
        {"path": str(tree / "dir"), "state": "directory", "mode": "0700"},
        {"path": str(tree / "link"), "state": "link", "src": "elsewhere"},
        {"path": str(tree / "current"), "state": "link", "src": "releases/1"},
        {"path": str(tree / "dir"), "state": "absent"},
    ])
    assert result["written"] == [str(tree / n) for n in ("new", "deep/er", "new/env", "unit", "dir", "link", "current", "dir")]
    assert result["changed"] is True
    assert mode(tree / "new") == 0o750 and (tree / "new" / "env").read_text() == "SECRET=1\n"
    assert mode(tree / "new" / "env") == 0o640 and (tree / "unit").read_text() == "[Service]\nUser=x\n"
    assert os.readlink(tree / "link") == "elsewhere" and os.readlink(tree / "current") == "releases/1"
    assert not (tree / "dir").exists()
    assert (tree / "deep" / "er").is_dir()
    assert sorted(os.listdir(tree)) == ["current", "deep", "link", "new", "unit"]  # no candidate left behind
    again = run([{"path": str(tree / "unit"), "content": "[Service]\nUser=x\n"}])
    assert again["changed"] is False


def test_check_mode_writes_nothing_and_says_what_it_would(run, tree):
    result = run([{"path": str(tree / "unit"), "content": "new\n"}, {"path": str(tree / "x"), "state": "directory"}],
                 check_mode=True)
    assert result["written"] == [str(tree / "unit"), str(tree / "x")] and result["changed"] is True
    assert (tree / "unit").read_text() == "[Service]\n" and not (tree / "x").exists()


def test_a_file_without_content_is_only_compared(run, tree):
    result = run([{"path": str(tree / "key.pem"), "mode": "0600"}])
    assert result["drifted"] == [str(tree / "key.pem")] and result["written"] == []
    assert not (tree / "key.pem").exists()


def test_diff_shows_content_but_never_private_content(run, tree):
    (tree / "env").write_text("OLD=1\n")
    result = run([{"path": str(tree / "unit"), "content": "[Service]\nUser=x\n"},
                  {"path": str(tree / "env"), "private_content": b64("SECRET=2\n")},
                  {"path": str(tree / "dir"), "state": "directory", "mode": "0700"}], diff=True)
    unit, env, directory = result["diff"]
    assert (unit["before"], unit["after"]) == ("[Service]\n", "[Service]\nUser=x\n")
    assert "SECRET" not in str(env) and "OLD" not in str(env)
    assert (directory["before"], directory["after"]) == ("mode differs\n", "state=directory mode=0700\n")


def test_a_new_file_that_fails_its_check_leaves_the_old_one(run, tree):
    result = run([{"path": str(tree / "unit"), "content": "broken\n", "validate": "grep -q Service %s"}],
                 expect=FailJson)
    assert result["msg"].startswith("%s: the new file failed its check (grep -q Service %%s)" % (tree / "unit"))
    assert (tree / "unit").read_text() == "[Service]\n"
    assert sorted(os.listdir(tree)) == ["dir", "link", "unit"]
    passed = run([{"path": str(tree / "unit"), "content": "[Service]\nA=1\n", "validate": "grep -q Service %s"}])
    assert passed["written"] == [str(tree / "unit")] and (tree / "unit").read_text() == "[Service]\nA=1\n"


def test_the_validate_command_runs_without_a_shell(run, tree):
    run([{"path": str(tree / "unit"), "content": "x\n", "validate": "true %s; touch " + str(tree / "pwned")}],
        expect=None)
    assert not (tree / "pwned").exists()


@pytest.mark.parametrize("entry, message", [
    ({"name": "dir", "content": "x\n"}, "something other than a regular file is in the way"),
    ({"name": "unit", "state": "directory"}, "something other than a directory is in the way"),
    ({"name": "dir", "state": "link", "src": "x"}, "a directory is in the way of the link"),
    ({"name": "unit", "owner": "no-such-user-here", "content": "[Service]\n"}, "no such user or group"),
    ({"name": "nowhere/unit", "content": "x\n"}, "No such file or directory"),
])
def test_what_cannot_be_made_fails_naming_the_path(run, tree, entry, message):
    path = str(tree / entry.pop("name"))
    result = run([{"path": path, **entry}], expect=FailJson)
    assert path in result["msg"] and message in result["msg"]


def test_a_mode_that_is_not_octal_fails(run, tree):
    result = run([{"path": str(tree / "unit"), "mode": "u=rw"}], expect=FailJson)
    assert result["msg"] == "files: the mode of %s must be octal like '0644', got 'u=rw'" % (tree / "unit")


def test_a_relative_path_fails(run):
    result = run([{"path": "etc/x"}], expect=FailJson)
    assert "is not an absolute path" in result["msg"]


def test_a_link_without_its_target_fails(run, tree):
    result = run([{"path": str(tree / "link"), "state": "link"}], expect=FailJson)
    assert "src" in result["msg"]


def test_a_removal_takes_files_links_and_whole_directories_and_says_so(run, tree):
    (tree / "dir" / "sub").mkdir()
    (tree / "dir" / "sub" / "data").write_text("x\n")
    entries = [{"path": str(tree / name), "state": "absent"} for name in ("link", "unit", "dir", "never")]
    removed = [str(tree / name) for name in ("link", "unit", "dir")]

    checked = run(entries, check_mode=True, diff=True)
    assert checked["removed"] == removed and checked["written"] == removed and checked["changed"] is True
    assert [(d["before_header"], d["before"], d["after"]) for d in checked["diff"]] == \
        [(path, "present\n", "state=absent\n") for path in removed]
    assert sorted(os.listdir(tree)) == ["dir", "link", "unit"] and (tree / "dir" / "sub" / "data").exists()

    result = run(entries)
    assert result["removed"] == removed and result["changed"] is True
    assert os.listdir(tree) == []
    again = run(entries)
    assert again["changed"] is False and again["removed"] == [] and again["drifted"] == []


def test_a_link_goes_without_what_it_points_to(run, tree):
    (tree / "to-dir").symlink_to(tree / "dir")
    run([{"path": str(tree / "to-dir"), "state": "absent"}])
    assert not os.path.lexists(tree / "to-dir") and (tree / "dir").is_dir() and (tree / "unit").exists()


@pytest.mark.parametrize("path", ["/srv", "/srv/", "/"])
def test_a_top_level_directory_is_never_removed(run, monkeypatch, path):
    def refuse(*args, **kwargs):
        raise AssertionError("removed %s" % (args,))
    monkeypatch.setattr(files.shutil, "rmtree", refuse)
    monkeypatch.setattr(files.os, "unlink", refuse)
    result = run([{"path": path, "state": "absent"}], expect=FailJson)
    assert "is a top-level directory, which is never removed" in result["msg"]
