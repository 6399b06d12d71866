"""Two hosts serve the site's names (two load balancers behind one name), each with the other as
its ACME peer (proxy_acme_peers). Each orders and renews its own certificate, with no controller,
whichever host the CA reaches: the host without the token asks its peer for it.

pebble's DNS server sends the site's names to one host; the other renews (certbot renew, as its
timer does), and the access logs show who asked whom: the CA the host it reached (from the CA's
address), that host its peer (from its own address)."""
from __future__ import annotations

import re
import time

import pytest

from conftest import PEER, ca_name, resolve, served

import testhost
from scenario import curl, wait_for

testinfra_hosts = ["ansible://asgi_uvicorn"]

LOG = "/var/log/nginx/access.log"  # the port-80 server's log (nginx's http-wide one, unbuffered)
REQUEST = re.compile(r'^(\S+) .*?"GET (/\.well-known/acme-challenge/\S+) HTTP/[0-9.]+" (\d{3}) ', re.M)


def log_length(name: str) -> int:
    return int(testhost.host_exec(name, "wc", "-l", LOG).split()[0])


def challenges(name: str, since: int) -> list[tuple[str, str, int]]:
    """(client address, path, status) of the challenge requests `name` logged after line `since`."""
    text = testhost.host_exec(name, "tail", "-n", f"+{since + 1}", LOG)
    return [(client, path, int(status)) for client, path, status in REQUEST.findall(text)]


@pytest.fixture(scope="module")
def hosts(host) -> dict[str, str]:
    """Each host's address, and the CA's."""
    return {name: testhost.ip(name) for name in (host.backend.get_hostname(), PEER, ca_name())}


@pytest.mark.parametrize("renewing", ["first host", "peer"])
def test_a_host_renews_while_its_names_resolve_to_its_peer(host, hosts, names, root, app_name, figures, renewing):
    first = host.backend.get_hostname()
    renewer, reached = (first, PEER) if renewing == "first host" else (PEER, first)
    before = served(hosts[renewer], names[0], root)
    marks = {name: log_length(name) for name in (first, PEER)}
    for name in names:
        resolve(name, hosts[reached])
    start = time.monotonic()
    try:
        testhost.host_exec(renewer, "certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew",
                           "--cert-name", app_name)
    finally:
        for name in names:
            resolve(name, None)
    seconds = time.monotonic() - start
    # certbot's deploy hook reloaded nginx; its new workers serve the new certificate.
    def renewed():
        cert = served(hosts[renewer], names[0], root)
        return cert if cert.serial_number != before.serial_number else None
    after = wait_for(renewed, "the renewed certificate served", timeout=10)
    at_reached, at_renewer = challenges(reached, marks[reached]), challenges(renewer, marks[renewer])
    issuers = {name: served(hosts[name], names[0], root).issuer.rfc4514_string() for name in (first, PEER)}
    figures.append({"step": f"{renewing} renews, names resolving to the other (certbot renew --force-renewal)",
                    "seconds": seconds, "measured": f"the CA reached {reached}: {len(at_reached)} GETs "
                    f"{sorted({s for *_, s in at_reached})}; it asked {renewer}: {len(at_renewer)} GETs "
                    f"{sorted({s for *_, s in at_renewer})}; serial {before.serial_number:x} -> {after.serial_number:x}, "
                    f"issuer {issuers[renewer]}"})
    print(f"\n{renewing}: the CA ({hosts[ca_name()]}) reached {reached} ({hosts[reached]}): {at_reached}\n"
          f"  which asked {renewer} ({hosts[renewer]}): {at_renewer}\n  issuers (verified to pebble's root): {issuers}")
    # At most one HTTP-01 token per name (pebble fetches each more than once; it may still reuse
    # a name's valid authorization now and then), every fetch answered.
    tokens = {path for client, path, _ in at_reached if client == hosts[ca_name()]}
    assert 1 <= len(tokens) <= len(names) and all(status == 200 for _, _, status in at_reached), at_reached
    assert {path for client, path, status in at_renewer if client == hosts[reached] and status == 200} == tokens
    assert all(client != hosts[ca_name()] for client, _, _ in at_renewer), "the CA reached the renewing host"
    for name in (first, PEER):
        cert = served(hosts[name], names[0], root)  # chain verified against pebble's root
        assert cert.issuer != cert.subject and "Pebble Intermediate" in issuers[name], issuers


def test_a_token_no_host_has_is_404_at_once_and_asked_of_each_host_once(host, hosts, server_name, root, figures):
    first = host.backend.get_hostname()
    path = "/.well-known/acme-challenge/asgi-uvicorn-nowhere_0"
    marks = {name: log_length(name) for name in (first, PEER)}
    timings = {}
    for entry in (first, PEER):
        start = time.monotonic()
        answer = curl(hosts[entry], server_name, path, root, scheme="http")
        timings[entry] = time.monotonic() - start
        assert answer.status == 404, answer
    # Each host: once from the client, once from the other host; never a second round.
    def logged():
        clients = {name: [c for c, p, _ in challenges(name, marks[name]) if p == path] for name in (first, PEER)}
        return clients if all(len(c) >= 2 for c in clients.values()) else None
    asked = wait_for(logged, "both requests logged on both hosts", timeout=10)
    figures.append({"step": "token no host has: GET through each host", "seconds": sum(timings.values()),
                    "measured": "404 in " + ", ".join(f"{name} {ms * 1000:.0f} ms" for name, ms in timings.items())
                    + f"; requests logged {asked}"})
    assert all(ms < 1 for ms in timings.values()), timings
    assert {name: len(clients) for name, clients in asked.items()} == {first: 2, PEER: 2}, asked


def test_only_token_names_are_asked_and_a_clients_marker_asks_nothing(host, hosts, server_name, root, app_name):
    """A file of the first host reaches a client through the peer only when its name is
    token-shaped, and not when the client sends the peers' own marker header."""
    webroot = f"/var/lib/asgi-uvicorn-acme/{app_name}/.well-known/acme-challenge"
    host.check_output(f"mkdir -p {webroot} && echo probe-answer > {webroot}/peer-probe && cp {webroot}/peer-probe {webroot}/peer.probe")
    try:
        def through_peer(name: str, headers: dict | None = None) -> tuple[int, str]:
            answer = curl(hosts[PEER], server_name, f"/.well-known/acme-challenge/{name}", root, scheme="http",
                          headers=headers)
            return answer.status, answer.body.strip()
        assert through_peer("peer-probe") == (200, "probe-answer")
        assert through_peer("peer.probe")[0] == 404
        assert through_peer("peer-probe", {"X-Asgi-Uvicorn-Acme-Peer": "1"})[0] == 404
    finally:
        host.check_output(f"rm -f {webroot}/peer-probe {webroot}/peer.probe")
