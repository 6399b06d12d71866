# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The line editing of roles/proxy/templates/usr/local/sbin/asgi-uvicorn-pool.j2 (the scenario
`cluster` runs the installed script on a load balancer). Its only Jinja is comments, so the
template is the script."""

from __future__ import annotations

import os
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "roles", "proxy", "templates", "usr", "local", "sbin", "asgi-uvicorn-pool.j2")

SITE = """upstream app_uvicorn {
    server 10.0.0.5:8000 max_fails=1 fail_timeout=5s;
    server 10.0.0.50:8000 max_fails=1 fail_timeout=5s;
    keepalive 128;
}

upstream app_uvicorn_fresh {
    server 10.0.0.5:8000 max_fails=1 fail_timeout=5s;
    server 10.0.0.50:8000 max_fails=1 fail_timeout=5s;
}
"""


@pytest.fixture(scope="module")
def pool():
    """The script as the template renders it: without its first line, a Jinja comment."""
    with open(SCRIPT) as f:
        first, _, source = f.read().partition("\n")
    assert first.startswith("{#") and first.endswith("#}")
    module = types.ModuleType("asgi_uvicorn_pool")
    exec(compile(source, SCRIPT, "exec"), module.__dict__)
    return module


def test_down_marks_that_server_in_both_upstreams_only(pool):
    text, matched = pool.mark(SITE, "10.0.0.5:8000", down=True)
    assert matched == 2
    assert text.count("server 10.0.0.5:8000 max_fails=1 fail_timeout=5s down;") == 2
    assert text.count("server 10.0.0.50:8000 max_fails=1 fail_timeout=5s;") == 2


def test_up_gives_back_the_file_the_template_wrote(pool):
    down, _ = pool.mark(SITE, "10.0.0.50:8000", down=True)
    again, _ = pool.mark(down, "10.0.0.50:8000", down=True)
    assert again == down
    up, matched = pool.mark(down, "10.0.0.50:8000", down=False)
    assert (up, matched) == (SITE, 2)


def test_an_unknown_or_partial_server_matches_nothing(pool):
    for server in ("10.0.0.6:8000", "10.0.0.5", "10.0.0.5:800"):
        assert pool.mark(SITE, server, down=True) == (SITE, 0)


@pytest.mark.parametrize("argv", [["../etc", "10.0.0.5:8000", "down"], ["app", "10.0.0.5:8000;x", "down"],
                                  ["app", "10.0.0.5:8000", "drain"]])
def test_bad_arguments_are_refused(pool, argv):
    with pytest.raises(SystemExit) as exc:
        pool.main(argv)
    assert exc.value.code == 2
