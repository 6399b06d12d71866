# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared rules (asgi.uvicorn.valid) for values that go into unit files, nginx sites and paths."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.asgi.uvicorn.plugins.filter import valid as names


@pytest.mark.parametrize(("test", "good", "bad"), [
    (names.is_name, ["app", "my-app_2", "a" * 32], ["", "App", "1app", "a" * 33, "a b", "a;b", "a/b", None]),
    (names.is_account, ["app", "_svc", "www-data"], ["Root", "a b", "", "a" * 33]),
    (names.is_plain_path, ["/srv/app", "/run/app/uvicorn.sock", "/a/b.c-d_e"],
     ["srv/app", "/srv/../etc", "/srv/a b", "/srv/a;b", "/srv/$x", "/"]),
    (names.is_dns_name, ["example.com", "app.example.com", "*.example.com", "localhost", "a-b.c0"],
     ["", "bad name.com", "example.com;evil", "-a.com", "a..com", "*", "a.*.com", "x" * 64 + ".com"]),
    (names.is_ip_network, ["10.0.0.2", "10.0.1.0/24", "fd00::/8", "::1"],
     ["10.0.0.1; allow all", "10.0.0.300", "host.example", "", "10.0.0.0/33"]),
    (names.is_host, ["10.0.0.2", "fd00::2", "lb2.example.com", "lb2"],
     ["10.0.0.0/24", "*.example.com", "lb2 example", "lb2;x", "", "[fd00::2]", None, 5]),
    (names.is_nginx_size, ["10m", "512k", "1g", "64"], ["10 m", "10mb", "", "-1"]),
    (names.is_url_path, ["/", "/static/", "/health", "/a.b/c~d-e_f/", "/.well-known/x"],
     ["", "static/", "//", "/a//b", "/../etc", "/a/../b", "/a/..", "/./", "/a b", "/a;b", "/a{b}", "/%2e%2e/",
      "/a\nb", None]),
    (names.is_nginx_rate, ["10r/s", "300r/m", "1r/s", "999999r/m"], ["10/s", "0r/s", "10r/h", "10r/s ", "1000000r/s", 10]),
])
def test_rules(test, good, bad):
    assert [v for v in good if not test(v)] == []
    assert [v for v in bad if test(v)] == []


def test_a_list_passes_when_every_item_does():
    assert names.valid(["a.example", "b.example"], "dns_name")
    assert not names.valid(["a.example", "bad name"], "dns_name")
    assert names.valid([], "ip_network")
    assert names.valid("10.0.0.0/8", "ip_network")


def test_an_unknown_kind_fails():
    with pytest.raises(AnsibleFilterError, match="unknown kind"):
        names.valid("x", "hostname")
