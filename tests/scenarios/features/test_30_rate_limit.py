"""Rate limits (/api/: 5 r/s, burst 5, per client address): a burst above the limit gets 429s,
traffic under it none; other clients, other paths and the local HTTPS socket are not limited.

nginx's limit keeps, per client, an excess that drains at the rate. Traffic at half the rate
leaves none behind it, so the burst that follows starts from an empty bucket."""
from __future__ import annotations

from conftest import HTTPS_SOCKET, host_request, own_address, row


def test_traffic_under_the_limit_gets_no_429(load, figures):
    report = load("/api/ping", 12, rate=2.5, concurrency=1)  # half the rate, one at a time
    figures.append(row("rate limit: 12 requests at 2.5 r/s",
                       f"{report['ok']} x 200, {report['failures'].get('429', 0)} x 429"))
    assert report["total"] == 12 and report["ok"] == 12, report


def test_a_burst_above_the_limit_gets_429s(host, https, load, server_name, figures):
    report = load("/api/ping", 60, rate=0, concurrency=8)
    # The same instant: other paths, another client address, and the health gate's socket.
    other_path = https("/pid")[0]
    other_client = host_request(host, own_address(host), 443, "/api/ping", server_name)["status"]
    gate_socket = host_request(host, HTTPS_SOCKET, 443, "/api/ping", server_name)["status"]
    limited = report["failures"].get("429", 0)
    figures.append(row("rate limit: 60 requests at once (5 r/s, burst 5)",
                       f"{report['ok']} x 200, {limited} x 429 in {report['duration_s']} s"))
    assert limited > 0, report
    assert 5 <= report["ok"] <= 6 + 5 * report["duration_s"] + 1, report  # the burst, the first and the rate
    assert set(report["failures"]) == {"429"}, report
    assert limited + report["ok"] == report["total"] == 60
    assert (other_path, other_client, gate_socket) == (200, 200, 200)
