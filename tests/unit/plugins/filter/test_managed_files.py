# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A role's list of what it writes, made ready for asgi.uvicorn.files."""

from __future__ import annotations

import base64

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


def test_each_template_gets_its_content_in_order():
    unit, dropin, env, link = managed_files(FILES, ["[Unit]\n", "A=1\n"])
    assert unit["content"] == "[Unit]\n"
    assert "content" not in dropin and "content" not in link
    # The input is left as it was: the role's list is read again by a removal.
    assert "content" not in FILES[0]


def test_content_of_an_entry_that_says_no_log_goes_private():
    env = managed_files(FILES, ["x", "A=1\n"])[2]
    assert base64.b64decode(env["private_content"]) == b"A=1\n" and "content" not in env


def test_files_and_directories_are_roots_unless_they_say():
    unit, dropin, env, link = managed_files(FILES, ["x", "y"])
    assert (unit["owner"], unit["group"], dropin["owner"], env["group"]) == ("root", "root", "root", "a")
    assert "owner" not in link


def test_only_what_the_files_module_takes():
    unit, _, env, link = managed_files(FILES, ["x", "y"])
    assert unit == {"path": "/etc/a.service", "content": "x", "owner": "root", "group": "root", "mode": "0644"}
    assert link == {"path": "/srv/a/current", "state": "link", "src": "/srv/a/releases/1"}
    assert not {"no_log", "scope", "template", "when"} & set(env)


def test_a_content_for_each_template():
    with pytest.raises(AnsibleFilterError, match="2 templates but 1 contents"):
        managed_files(FILES, ["x"])


def test_content_given_as_such_and_check_only_pass_through():
    key, cert = managed_files([{"path": "/etc/x/key.pem", "content": "KEY\n", "mode": "0600", "no_log": True},
                               {"path": "/etc/x/cert.pem", "check_only": True}], [])
    assert key == {"path": "/etc/x/key.pem", "private_content": base64.b64encode(b"KEY\n").decode(), "owner": "root", "group": "root", "mode": "0600"}
    assert cert["check_only"] is True



def test_a_removal_walks_the_app_entries_backwards_whatever_their_when():
    entries = [
        {"path": "/etc/nginx/conf.d/default.conf", "template": "default.j2", "scope": "host"},
        {"path": "/var/lib/pages/a", "state": "directory", "scope": "app", "when": False},
        {"path": "/etc/x/key.pem", "check_only": True, "scope": "app", "when": "false"},
        {"path": "/etc/x/key.pem", "content": "KEY\n", "no_log": True, "scope": "app", "when": True},
        {"path": "/etc/nginx/sites-available/a.conf", "template": "site.j2", "scope": "app"},
        {"path": "/etc/nginx/sites-enabled/a.conf", "state": "link", "src": "/etc/nginx/sites-available/a.conf", "scope": "app"},
        {"path": "/srv/a/current", "state": "link", "src": "/srv/a/releases/1"},
    ]
    assert managed_files(entries, remove=True) == [
        {"path": "/etc/nginx/sites-enabled/a.conf", "state": "absent"},
        {"path": "/etc/nginx/sites-available/a.conf", "state": "absent"},
        {"path": "/etc/x/key.pem", "state": "absent"},
        {"path": "/var/lib/pages/a", "state": "absent"},
    ]
    assert managed_files(entries, remove="false") == managed_files(entries)
