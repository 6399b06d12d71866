"""The deployed stack after `converge` (workers=4) and an idempotent second run."""
from __future__ import annotations

import json
import re
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor

from conftest import main_pid, ps_children, run_workers_module


def test_service_enabled_and_active(host, app_name):
    service = host.service(app_name)
    assert service.is_enabled
    assert service.is_running


def test_parent_plus_four_workers_match_ps(host, app_name):
    failed, result = run_workers_module({"unit": app_name, "expected": 4, "timeout": 30})
    assert not failed, result.get("msg")
    assert result["main_pid"] == main_pid(host, app_name)
    children = ps_children(host, result["main_pid"])
    assert len(children.trackers) == 1 and not children.others, children
    assert result["worker_pids"] == children.workers
    assert result["worker_count"] == 4 == len(result["workers"])


def test_nginx_active_and_default_site_gone(host):
    assert host.service("nginx").is_running
    assert host.service("nginx").is_enabled
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_https_answers_200_with_hsts_through_verified_tls(https):
    status, headers, body = https("/")
    assert status == 200
    assert headers["strict-transport-security"].startswith("max-age=")
    answer = json.loads(body)
    # Uvicorn trusted nginx's X-Forwarded-* headers: it saw HTTPS and the real client.
    assert answer["scheme"] == "https"
    assert answer["client"] not in (None, "127.0.0.1")


def test_the_apps_own_502_is_passed_through(https):
    """nginx answers its own 502s (all upstream tries failed) from a retry location; the app's are
    not nginx's to handle: they reach the client as the app wrote them."""
    status, headers, body = https("/status/502")
    assert status == 502
    assert headers["content-type"] == "application/json", body
    assert json.loads(body)["status"] == 502


def test_http_redirects_to_https(https, server_name):
    status, headers, _ = https("/some/path?q=1", scheme="http")
    assert status == 301
    assert headers["location"] == f"https://{server_name}/some/path?q=1"


def test_tls_versions(server_name, address, cacert):
    def handshake(version: ssl.TLSVersion) -> bool:
        ctx = ssl.create_default_context(cafile=str(cacert))
        ctx.minimum_version = ctx.maximum_version = version
        try:
            with socket.create_connection((address, 443), timeout=5) as sock:
                with ctx.wrap_socket(sock, server_hostname=server_name):
                    return True
        except ssl.SSLError:
            return False
    assert handshake(ssl.TLSVersion.TLSv1_3)
    assert handshake(ssl.TLSVersion.TLSv1_2)
    assert not handshake(ssl.TLSVersion.TLSv1_1)


def test_concurrent_requests_reach_several_workers(https):
    # Idle workers share one socket and the kernel hands a connection to whichever waits first:
    # on a busy machine one batch can meet a single worker, so send up to five.
    pids: set[int] = set()
    for _ in range(5):
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda _: https("/pid"), range(64)))
        assert all(status == 200 for status, _, _ in answers)
        pids |= {json.loads(body)["pid"] for _, _, body in answers}
        if len(pids) >= 2:
            break
    assert len(pids) >= 2, pids


def test_websocket_through_nginx(server_name, address, cacert):
    from websockets.sync.client import connect

    ctx = ssl.create_default_context(cafile=str(cacert))
    sock = socket.create_connection((address, 443), timeout=10)
    with connect(f"wss://{server_name}/ws", sock=sock, ssl=ctx, server_hostname=server_name,
                 open_timeout=10) as ws:
        ws.send("hello")
        reply = ws.recv(timeout=10)
    assert re.fullmatch(r"\d+:hello", reply), reply


def test_socket_reachable_only_by_app_and_nginx(host, app_name):
    sock = host.file(f"/run/{app_name}/uvicorn.sock")
    assert sock.is_socket
    assert (sock.mode, sock.user, sock.group) == (0o660, app_name, "www-data")
    assert host.service(f"{app_name}.socket").is_enabled
    # Any other local user is refused, so trusting every socket client's X-Forwarded-* is safe.
    refused = host.run(f"setpriv --reuid=nobody --regid=nogroup --clear-groups "
                       f"python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect(\"/run/{app_name}/uvicorn.sock\")'")
    assert refused.rc != 0 and "Permission denied" in refused.stderr


def test_key_env_file_and_user(host, app_name):
    key = host.file(f"/etc/nginx/tls/{app_name}/privkey.pem")
    assert (key.mode, key.user, key.group) == (0o600, "root", "root")
    env = host.file(f"/etc/{app_name}/env")
    assert (env.mode, env.user, env.group) == (0o640, "root", app_name)
    user = host.user(app_name)
    assert user.shell == "/usr/sbin/nologin"
    assert host.file(f"/srv/{app_name}/current").is_symlink


def test_release_code_readable_by_the_app_only(host, app_name):
    """The code and the virtualenv are the app's group's: nginx and other users read none of them."""
    code = f"/srv/{app_name}/current/app/main.py"
    python = f"/srv/{app_name}/current/venv/bin/python"
    assert host.run(f"runuser -u {app_name} -- sh -c 'cat {code} >/dev/null && test -x {python}'").rc == 0
    for user in ("www-data", "nobody"):
        for command in (f"cat {code}", f"ls {python}", f"ls /srv/{app_name}/releases", f"ls /srv/{app_name}/venvs"):
            assert host.run(f"runuser -u {user} -- {command}").rc != 0, (user, command)


def test_unit_hardening_score(host, app_name):
    out = host.check_output(f"systemd-analyze security --no-pager {app_name}.service")
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    print(f"systemd-analyze security {app_name}.service: {score}")
    assert score <= 2.0, out
