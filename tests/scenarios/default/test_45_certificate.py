"""The self-signed certificate: a year by default, renewed by the tls role before it ends or
when it outlives tls_selfsigned_days; nginx serves the new one at once. (That a valid one is
kept is the scenario's idempotence step.) The role runs alone (proxy_only.yml): a certificate
needs nothing of the other roles, and the full deploy is checked enough elsewhere."""
from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from conftest import run_deploy

pytestmark = pytest.mark.first_leg_only


def served(address: str, server_name: str) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, 443), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def days(cert: x509.Certificate) -> float:
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() / 86400


PROXY_ONLY = Path(__file__).with_name("proxy_only.yml")


def deploy(**extra) -> None:
    proc = run_deploy(extra, playbook=str(PROXY_ONLY))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_renewed_when_it_ends_soon_or_lives_too_long(address, server_name):
    first = served(address, server_name)
    print(f"default certificate: {days(first):.0f} days")
    assert 364 <= days(first) <= 366

    # It outlives a 2-day lifetime: a new one.
    deploy(tls_selfsigned_days=2, tls_selfsigned_renew_days=1)
    short = served(address, server_name)
    assert short.serial_number != first.serial_number and 1.9 <= days(short) <= 2.1

    # Back to the defaults: it ends within 30 days, so a new year-long one.
    deploy()
    renewed = served(address, server_name)
    assert renewed.serial_number != short.serial_number and 364 <= days(renewed) <= 366
