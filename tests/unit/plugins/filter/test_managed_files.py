# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A role's list of what it writes, made ready for asgi.uvicorn.drift and the writer."""

from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.asgi.uvicorn.plugins.filter.managed_files import managed_files

FILES = [
    {"path": "/etc/a.service", "template": "a.service.j2", "mode": "0644", "scope": "app"},
    {"path": "/etc/a.service.d", "state": "directory", "mode": "0755", "scope": "app"},
    {"path": "/etc/a.socket", "template": "a.socket.j2", "mode": "0644", "when": False},
    {"path": "/etc/a/env", "template": "env.j2", "group": "a", "mode": "0640", "no_log": True, "when": True},
    {"path": "/srv/a/current", "state": "link", "src": "/srv/a/releases/1"},
]


def test_entries_whose_when_is_false_are_dropped():
    kept = managed_files(FILES)
    assert [e["path"] for e in kept] == ["/etc/a.service", "/etc/a.service.d", "/etc/a/env", "/srv/a/current"]
    assert all("when" not in e for e in kept)
    assert [e["template"] for e in kept if "template" in e] == ["a.service.j2", "env.j2"]


@pytest.mark.parametrize("when", ["True", "true"])
def test_a_when_given_as_text_counts(when):
    assert len(managed_files([{"path": "/x", "template": "x.j2", "when": when}])) == 1


def test_each_template_gets_its_content_and_checksum_in_order():
    kept = managed_files(FILES, ["[Unit]\n", "A=1\n"])
    unit, dropin, env, link = kept
    assert (unit["content"], env["content"]) == ("[Unit]\n", "A=1\n")
    assert unit["checksum"] == hashlib.sha1(b"[Unit]\n").hexdigest()
    assert "content" not in dropin and "content" not in link
    # The input is left as it was: the role's list is read again by a removal.
    assert "content" not in FILES[0]


def test_files_and_directories_are_roots_unless_they_say():
    unit, dropin, env, link = managed_files(FILES, ["x", "y"])
    assert (unit["owner"], unit["group"], dropin["owner"], env["group"]) == ("root", "root", "root", "a")
    assert "owner" not in link


def test_drift_gets_only_what_it_compares():
    unit, _, env, link = managed_files(FILES, ["x", "y"])
    assert unit["drift"] == {"path": "/etc/a.service", "checksum": hashlib.sha1(b"x").hexdigest(),
                             "owner": "root", "group": "root", "mode": "0644"}
    assert "no_log" not in env["drift"] and "scope" not in unit["drift"]
    assert link["drift"] == {"path": "/srv/a/current", "state": "link", "src": "/srv/a/releases/1"}


def test_a_content_for_each_template():
    with pytest.raises(AnsibleFilterError, match="2 templates but 1 contents"):
        managed_files(FILES, ["x"])


def test_content_given_as_such_gets_its_checksum_too():
    (entry,) = managed_files([{"path": "/etc/x/key.pem", "content": "KEY\n", "mode": "0600"}], [])
    assert entry["checksum"] == hashlib.sha1(b"KEY\n").hexdigest()
    assert entry["drift"] == {"path": "/etc/x/key.pem", "checksum": entry["checksum"], "owner": "root",
                              "group": "root", "mode": "0600"}
