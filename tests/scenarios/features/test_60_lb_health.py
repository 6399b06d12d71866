"""The load balancers' health port answers the health path for any Host, to loopback and
proxy_trusted_proxies only; anything else is 403 or 404."""
from __future__ import annotations

import subprocess

from conftest import host_request, own_address, row, run_deploy

PORT = 8080


def controller_get(address: str, path: str) -> int:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                          "-H", "Host: 203.0.113.7", f"http://{address}:{PORT}{path}"],
                         capture_output=True, text=True, timeout=30).stdout
    return int(out or 0)


def test_loopback_gets_the_health_path_whatever_the_host(host):
    for name in ("203.0.113.7", "not-the-site.example", "127.0.0.1"):
        answer = host_request(host, "127.0.0.1", PORT, "/health", name, tls=False)
        assert answer["status"] == 200 and '"status":"ok"' in answer["body"], (name, answer)
    assert host_request(host, "127.0.0.1", PORT, "/pid", "x", tls=False)["status"] == 404


def test_other_addresses_are_refused(host, address):
    assert controller_get(address, "/health") == 403
    assert host_request(host, own_address(host), PORT, "/health", "x", tls=False)["status"] == 403


def test_a_trusted_proxy_gets_the_health_path(host, address, client_address, figures):
    """Last: it redeploys with the controller as a trusted proxy."""
    proc = run_deploy({"proxy_trusted_proxies": [client_address]})
    assert proc.returncode == 0, proc.stdout[-3000:]
    status = controller_get(address, "/health")
    figures.append(row("LB health port from the controller, untrusted / trusted", f"403 / {status}"))
    assert status == 200
