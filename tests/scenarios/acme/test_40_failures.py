"""A bad ACME setting fails before any change (which setting fails which check, and with what
message: tests/inputs/); a CA that cannot be reached fails the play naming the directory, the
names and the error, and the old certificate stays."""
from __future__ import annotations

import re
import time

from conftest import assert_bad_input_changes_nothing, ca_exec, orders, resolve, run_deploy, served

testinfra_hosts = ["ansible://asgi_uvicorn"]


def test_bad_acme_setting_changes_nothing(host, app_name):
    orders_before = orders()
    assert_bad_input_changes_nothing(host, app_name, {"tls_acme_terms_agreed": False}, "tls_acme_terms_agreed")
    assert orders() == orders_before


def deploy_adding(names: list[str], name: str) -> tuple:
    """Deploy with `name` added to the site's names: (the process, its seconds, the play's
    failure message about the certificate, None when there is none)."""
    start = time.monotonic()
    proc = run_deploy({"proxy_server_aliases": [*names[1:], name]})
    seconds = time.monotonic() - start
    output = re.sub(r"\s+", " ", proc.stdout + proc.stderr)
    return proc, seconds, re.search(r"The ACME CA at .*?nginx keeps serving the certificate it had\.", output)


def test_refused_challenge_fails_with_the_cas_error_and_keeps_the_old_certificate(
        host, address, server_name, names, root, directory, figures):
    """A name whose DNS points elsewhere (pebble's DNS server sends it to the CA host itself,
    where nothing listens on port 80): the CA refuses the challenge and says why."""
    before = served(address, server_name, root)
    refused = "refused.acme.test"
    resolve(refused, "127.0.0.1")
    orders_before = orders()
    proc, seconds, failure = deploy_adding(names, refused)
    figures.append({"step": "challenge refused (name resolves elsewhere), deploy adding it", "seconds": seconds,
                    "measured": f"play rc {proc.returncode}; {orders() - orders_before} order(s) tried; old serial "
                    f"still served: {served(address, server_name, root).serial_number == before.serial_number}"})
    assert proc.returncode != 0, "a deploy whose challenge the CA refuses must fail"
    assert failure, proc.stdout[-3000:] + proc.stderr[-2000:]
    print(failure.group(0)[:800])
    assert directory in failure.group(0) and f"Domain: {refused}" in failure.group(0)
    assert re.search(r"[Cc]onnection refused", failure.group(0)), failure.group(0)
    for name in names:
        assert served(address, name, root).serial_number == before.serial_number


def test_ca_down_adding_a_name_fails_clearly_and_keeps_the_old_certificate(
        host, address, server_name, names, root, directory, figures):
    before = served(address, server_name, root)
    ca_exec("systemctl", "stop", "pebble.service")
    added = "new.acme.test"
    proc, seconds, failure = deploy_adding(names, added)
    figures.append({"step": "ACME server stopped, deploy adding a name", "seconds": seconds,
                    "measured": f"play rc {proc.returncode}; old serial still served: "
                    f"{served(address, server_name, root).serial_number == before.serial_number}"})
    assert proc.returncode != 0, "a deploy that cannot get its certificate must fail"
    assert failure, proc.stdout[-3000:] + proc.stderr[-2000:]
    print(failure.group(0)[:600])
    assert directory in failure.group(0) and added in failure.group(0)
    assert re.search(r"Connection refused|Failed to establish a new connection", failure.group(0)), failure.group(0)
    assert host.service("nginx").is_running
    for name in names:
        assert served(address, name, root).serial_number == before.serial_number
