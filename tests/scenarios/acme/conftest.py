"""The acme scenario's fixtures: the ACME server's host and root, the certificate nginx serves,
a background load and the figures table; the shared ones come from tests/lib/scenario.py."""
from __future__ import annotations

import functools
import json
import re
import socket
import ssl
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)
from scenario import figures_table, load_through_nginx  # noqa: E402

import testhost  # noqa: E402

# pebble logs one such line for each new order (and nothing else does).
ORDER_LINE = re.compile(r'Added order "[^"]+" to the db')


# The second host of the site's names (molecule/acme/molecule.yml): each is the other's ACME peer.
PEER = "asgi-uvicorn-acme-peer"


def ca_name() -> str:
    """The container of the ACME server (molecule/acme/molecule.yml's second platform)."""
    return "asgi-uvicorn-acme-ca"


def ca_exec(*cmd: str, check: bool = True) -> str:
    return testhost.host_exec(ca_name(), *cmd, check=check)


def resolve(name: str, address: str | None) -> None:
    """Have pebble's DNS server answer `name` with `address`; None: its default again (the first
    app host's address, molecule/acme/prepare.yml)."""
    path, body = ("add-a", {"host": name, "addresses": [address]}) if address else ("clear-a", {"host": name})
    ca_exec("python3", "-c", "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request("
            "'http://127.0.0.1:8055/' + sys.argv[1], sys.argv[2].encode()))", path, json.dumps(body))


def orders() -> int:
    """New orders pebble took since it started, counted in its log."""
    return len(ORDER_LINE.findall(ca_exec("journalctl", "-u", "pebble", "--no-pager", "-o", "cat")))


@pytest.fixture(scope="module")
def server_name(host) -> str:
    return host.ansible.get_variables()["proxy_server_name"]


@pytest.fixture(scope="module")
def names(host) -> list[str]:
    variables = host.ansible.get_variables()
    return [variables["proxy_server_name"], *variables["proxy_server_aliases"]]


@pytest.fixture(scope="session")
def directory() -> str:
    return f"https://{ca_name()}:14000/dir"


@pytest.fixture(scope="session")
def root(tmp_path_factory) -> Path:
    """The root that signs pebble's certificates, from its management interface (port 15000),
    over HTTPS verified with pebble's own certificate. pebble makes a new root each start."""
    context = ssl.create_default_context(cadata=ca_exec("cat", "/etc/pebble/cert.pem"))
    context.check_hostname = False  # reached by address; the certificate names the CA host
    url = f"https://{testhost.ip(ca_name())}:15000/roots/0"
    with urllib.request.urlopen(url, context=context, timeout=10) as answer:
        pem = answer.read().decode()
    assert pem.startswith("-----BEGIN CERTIFICATE-----"), pem[:200]
    path = tmp_path_factory.mktemp("acme") / "pebble-root.pem"
    path.write_text(pem)
    return path


@pytest.fixture(scope="module")
def cacert(root) -> Path:
    """Clients trust pebble's root, as browsers trust Let's Encrypt's."""
    return root


def served(address: str, name: str, root: Path) -> x509.Certificate:
    """The certificate nginx serves for SNI `name`, after a handshake verified against `root`
    (chain and host name; ssl raises when either fails)."""
    context = ssl.create_default_context(cafile=str(root))
    with socket.create_connection((address, 443), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=name) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def san(cert: x509.Certificate) -> list[str]:
    return sorted(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                  .get_values_for_type(x509.DNSName))


def nginx_processes(host) -> tuple[int, list[int]]:
    """nginx's master PID and its workers: a reload keeps the master and replaces the workers."""
    master = int(host.check_output("systemctl show -p MainPID --value nginx.service"))
    workers = sorted(int(p) for p in host.check_output(f"ps -o pid= --ppid {master}").split())
    return master, workers


def steps_table(rows: list[dict]) -> str:
    """The acme figures: one row per step, with its seconds and its load client's report."""
    lines = ["| Step | Seconds | Requests | Failed | Measured |", "|---|---:|---:|---:|---|"]
    for row in rows:
        load = row.get("load") or {}
        lines.append("| %s | %.1f | %s | %s | %s |" % (row["step"], row["seconds"], load.get("total", "-"),
                                                      load.get("failed", "-"), row.get("measured", "")))
    return "\n".join(lines)


@pytest.fixture(scope="session")
def figures():
    """Rows of the figures table; printed (and written to .cache/acme/) at the end."""
    with figures_table("acme", "ACME certificates (molecule test -s acme)", steps_table) as rows:
        yield rows


@pytest.fixture
def load(server_name, address, root):
    """``with load() as result:`` keeps GET /pid going through nginx (HTTPS verified against
    pebble's root) while the block runs; ``result`` holds the load client's report after it.

    A reload closes nginx's idle keep-alive connections; a GET sent on one at that instant gets
    no answer, and HTTP clients send it again on a new connection (RFC 9112, 9.3.1). The load
    client does the same (--retry-reused) and counts it: such a GET is not a failed request."""
    return functools.partial(load_through_nginx, server_name, address, root, duration=120, retry_reused=True)
