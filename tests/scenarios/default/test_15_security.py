"""What a client writes never decides what the app believes: its address, the site's name.

The forged-header checks ask the sample app's /request, which reports the client address and
the forwarding headers as the app sees them. A second app, deployed next to the first with its
own name and a trusted proxy (the controller, as a load balancer would be), shows that several
sites share the host and that only a trusted proxy may name the client.
"""
from __future__ import annotations

import json
import socket
import ssl

import pytest

from conftest import SECOND, curl

FORGED = {
    "X-Forwarded-For": "6.6.6.6",
    "X-Real-IP": "6.6.6.7",
    "Forwarded": "for=6.6.6.8;proto=http;host=evil.example",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Port": "8080",
}
# Public test addresses (RFC 5737) that a trusted proxy vouches for.
VOUCHED_CLIENT = "203.0.113.9"


def seen(answer) -> dict:
    assert answer.rc == 0 and answer.status == 200, (answer.rc, answer.status, answer.error, answer.body)
    return json.loads(answer.body)


def handshake(address: str, sni: str | None, cacert) -> str:
    """TLS to address:443 with that SNI (None sends none): the certificate's names, or the error."""
    context = ssl.create_default_context(cafile=str(cacert))
    context.check_hostname = False
    try:
        with socket.create_connection((address, 443), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname=sni) as tls:
                return "ok: " + str(tls.getpeercert().get("subjectAltName"))
    except (ssl.SSLError, OSError) as error:
        return f"refused: {error}"


def test_forged_forwarding_headers_do_not_change_the_client(address, server_name, cacert, client_address):
    app = seen(curl(address, server_name, "/request", cacert, headers=FORGED))
    print(f"forged headers: the app sees client {app['client']} and {app['forwarding_headers']}")
    assert app["client"] == client_address
    assert app["scheme"] == "https"
    assert app["forwarding_headers"] == {
        "x-forwarded-for": client_address,
        "x-real-ip": client_address,
        "forwarded": None,
        "x-forwarded-proto": "https",
        "x-forwarded-host": server_name,
        "x-forwarded-port": None,
    }


def test_unknown_sni_gets_no_handshake(address, server_name, cacert):
    assert handshake(address, server_name, cacert).startswith("ok: "), "the site's own name must work"
    for sni in ("evil.example", None):
        result = handshake(address, sni, cacert)
        assert result.startswith("refused: "), f"SNI {sni!r}: {result}"


@pytest.mark.parametrize("http", ["--http1.1", "--http2"])
def test_unknown_host_on_443_gets_no_answer(address, server_name, cacert, http):
    """A known SNI with a foreign Host: nginx closes the connection (444), the app never sees it.
    Over HTTP/2, nginx 1.25+ refuses a Host that differs from the SNI's server with its own 421."""
    answer = curl(address, server_name, "/request", cacert, headers={"Host": "evil.example"}, extra=(http,))
    if answer.status == 421:
        assert "<center>nginx</center>" in answer.body and "app_dir" not in answer.body, answer.body
    else:
        assert answer.status == 0 and answer.rc != 0, (answer.status, answer.body)
    assert curl(address, server_name, "/request", cacert, extra=(http,)).status == 200


def test_unknown_host_on_80_gets_no_redirect(address, server_name, cacert):
    answer = curl(address, server_name, "/x", cacert, scheme="http", headers={"Host": "evil.example"})
    assert answer.status == 0 and answer.rc != 0, (answer.status, answer.headers)
    own = curl(address, server_name, "/x", cacert, scheme="http")
    assert own.status == 301 and own.headers["location"] == f"https://{server_name}/x"


def test_server_tokens_off(https):
    _, headers, _ = https("/health")
    assert headers["server"] == "nginx", headers["server"]


def test_two_apps_on_one_host_answer_only_on_their_own_names(address, server_name, cacert, app_name,
                                                             second_app):
    first = seen(curl(address, server_name, "/request", cacert))
    second = seen(curl(address, SECOND["server_name"], "/request", second_app["cacert"]))
    assert first["app_dir"] == f"/srv/{app_name}/current/app"
    assert second["app_dir"] == f"/srv/{SECOND['app_name']}/current/app"
    # The second app's name never reaches the first app, nor the first's the second.
    for sni, cert, host_header, expected in ((server_name, cacert, SECOND["server_name"], second),
                                             (SECOND["server_name"], second_app["cacert"], server_name, first)):
        crossed = seen(curl(address, sni, "/request", cert, headers={"Host": host_header}, extra=("--http1.1",)))
        assert crossed["app_dir"] == expected["app_dir"], (sni, host_header, crossed)


def test_hsts_off_as_a_string_from_the_command_line(address, server_name, cacert, second_app):
    """The second app has proxy_hsts "false" (a string, as -e gives it); the first the default."""
    second = curl(address, SECOND["server_name"], "/health", second_app["cacert"])
    assert second.status == 200 and "strict-transport-security" not in second.headers, second.headers
    assert "strict-transport-security" in curl(address, server_name, "/health", cacert).headers


def test_only_a_trusted_proxy_names_the_client(address, server_name, cacert, client_address, second_app):
    """The second site trusts the controller as its load balancer: nginx takes the right-most
    address that is not a trusted proxy, and hands the app that one alone."""
    chain = {"X-Forwarded-For": f"6.6.6.6, {VOUCHED_CLIENT}", "X-Real-IP": "6.6.6.7", "Forwarded": "for=6.6.6.8"}
    second = seen(curl(address, SECOND["server_name"], "/request", second_app["cacert"], headers=chain))
    assert second["client"] == VOUCHED_CLIENT
    assert second["forwarding_headers"]["x-forwarded-for"] == VOUCHED_CLIENT
    assert second["forwarding_headers"]["x-real-ip"] == VOUCHED_CLIENT
    assert second["forwarding_headers"]["forwarded"] is None
    # The first site trusts no proxy: the same headers change nothing there.
    first = seen(curl(address, server_name, "/request", cacert, headers=chain))
    assert first["client"] == client_address
