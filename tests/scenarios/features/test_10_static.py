"""Static files: nginx serves them with long cache headers and no Python process touched; it
follows no symlink and climbs no '..' out of the directory, and reads nothing else of the app."""
from __future__ import annotations

import json
import re
import uuid

import pytest

from conftest import CSS, STATIC, cpu_ticks, curl, host_request, row, wait_for, workers

REQUESTS = 1000


def test_static_file_answers_with_cache_headers(https, host):
    status, headers, body = https(CSS)
    assert status == 200, body
    assert body == host.file(f"{STATIC}/css/app.3f9a1c2e.css").content_string
    assert headers["content-type"].startswith("text/css")
    cache = headers.get("cache-control", "")
    max_age = int(re.search(r"max-age=(\d+)", cache).group(1))
    assert max_age >= 365 * 24 * 3600 and "immutable" in cache, cache
    assert "strict-transport-security" in headers  # the site's HSTS is kept beside it
    assert "etag" in headers and "last-modified" in headers


def test_static_files_touch_no_python_process(host, load, figures):
    """Worker CPU time is unchanged by static requests, and moves for as many app requests (so
    the measure can see a request that reached Python)."""
    _, pids = workers(host)
    before = cpu_ticks(host, pids)
    report = load(CSS, REQUESTS, rate=500)
    static = cpu_ticks(host, pids)
    app = load("/pid", REQUESTS, rate=500)
    after = cpu_ticks(host, pids)
    # (loadclient may leave the last few requests of a paced budget unsent: count what it sent)
    assert report["failed"] == 0 and report["ok"] > REQUESTS * 0.9, report
    assert app["failed"] == 0 and app["ok"] > REQUESTS * 0.9, app
    static_ticks = sum(static[p] - before[p] for p in pids)
    app_ticks = sum(after[p] - static[p] for p in pids)
    figures.append(row(f"static: worker CPU ticks for {report['ok']} static / {app['ok']} app requests",
                       f"{static_ticks} / {app_ticks} (10 ms each; {report['requests_per_s']} req/s static)"))
    assert app_ticks >= 5, f"the measure saw no CPU for {REQUESTS} app requests: {app_ticks} ticks"
    # A tick or two of the supervisor's pings, never the cost of serving the requests.
    assert static_ticks <= 2, f"workers spent {static_ticks} ticks during {REQUESTS} static requests"


def test_static_requests_never_reach_the_app(host, address, server_name, cacert):
    """The JSON access log shows no upstream for a static file, one for an app request."""
    agent = f"features-{uuid.uuid4().hex}"  # finds this check's own lines in the log
    for path in (CSS, "/pid"):
        assert curl(address, server_name, path, cacert, headers={"User-Agent": agent}).status == 200

    def logged() -> dict:
        # The log buffer is flushed every second: wait for both lines.
        lines = [json.loads(line) for line in host.file("/var/log/nginx/sample.json.log").content_string.splitlines()]
        found = {e["uri"]: e for e in lines if e.get("user_agent") == agent}
        return found if len(found) == 2 else {}
    found = wait_for(logged, "the access log's lines of both requests", timeout=10)
    static, app = found[CSS], found["/pid"]
    assert static["status"] == 200 and static["upstream_status"] == "", static
    assert app["status"] == 200 and app["upstream_status"] == "200", app
    assert set(static) >= {"time", "client", "method", "request_time", "upstream_response_time", "user_agent"}


@pytest.fixture
def escapes(host):
    """Symlinks in the static directory that point out of it, made as the app would."""
    links = {"passwd": "/etc/passwd", "main.py": "/srv/sample/current/app/main.py", "up": "/srv/sample/shared"}
    for name, target in links.items():
        host.check_output(f"runuser -u sample -- ln -sfn {target} {STATIC}/{name}")
    host.check_output("runuser -u sample -- sh -c 'umask 027; echo app-only > /srv/sample/shared/private.txt'")
    yield links
    host.check_output(f"rm -f {STATIC}/passwd {STATIC}/main.py {STATIC}/up /srv/sample/shared/private.txt")


@pytest.mark.parametrize("path", [
    "/static/../main.py", "/static/..%2fmain.py", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static../shared/private.txt", "/static/passwd", "/static/main.py", "/static/up/private.txt", "/static/",
    "/static/css/"])
def test_no_escape_from_the_static_directory(escapes, address, server_name, cacert, path, figures):
    answer = curl(address, server_name, path, cacert, extra=("--path-as-is",))
    assert answer.rc == 0, answer.error
    figures.append(row(f"static escape {path}", str(answer.status)))
    assert answer.status in (400, 403, 404), (path, answer.status, answer.body[:200])
    for secret in ("root:x:0:0", "app-only", "FastAPI(", "app.3f9a1c2e.css"):
        assert secret not in answer.body, (path, answer.body[:300])


def test_nginx_reads_the_static_files_and_nothing_else_of_the_app(host, escapes):
    def rc(user: str, command: str) -> int:
        return host.run(f"runuser -u {user} -- {command}").rc
    code = "/srv/sample/current/app/main.py"
    assert rc("www-data", f"cat {STATIC}/css/app.3f9a1c2e.css") == 0
    assert rc("sample", f"cat {code}") == 0  # the app reads its code, so the checks below can fail
    assert rc("sample", "ls /srv/sample/current/venv/bin/python") == 0
    refused = ["cat /srv/sample/shared/private.txt", "ls /srv/sample/shared", f"cat {code}",
               "ls /srv/sample/releases", "ls /srv/sample/venvs", "cat /etc/sample/env", "ls /run/sample-metrics"]
    assert [c for c in refused if rc("www-data", c) == 0] == []
    assert [c for c in refused if rc("nobody", c) == 0] == []


def test_a_new_static_file_is_readable_by_nginx(host, https):
    """Files the app writes later inherit nginx's read access (default ACLs), whatever its umask."""
    host.check_output(f"runuser -u sample -- sh -c 'umask 077; echo late > {STATIC}/late.txt'")
    try:
        status, _, body = https("/static/late.txt")
        assert (status, body) == (200, "late\n")
    finally:
        host.check_output(f"rm -f {STATIC}/late.txt")


def test_the_host_itself_gets_the_same_file(host, server_name):
    answer = host_request(host, "127.0.0.1", 443, CSS, server_name)
    assert answer["status"] == 200
