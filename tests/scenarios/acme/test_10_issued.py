"""The certificate the converge ordered from pebble: trusted through pebble's root, for exactly
the site's names, fully compliant with Mozilla's intermediate configuration, its keys private,
and port 80 answering the CA's challenges while redirecting everything else."""
from __future__ import annotations

import re
import subprocess
import sys
import time


from conftest import ca_exec, orders, san, served

from scenario import curl

testinfra_hosts = ["ansible://asgi_uvicorn"]


def test_served_chain_verifies_against_the_ca_root_with_exactly_the_site_names(
        host, address, names, root, figures):
    start = time.monotonic()
    for name in names:
        cert = served(address, name, root)  # raises unless chain and name verify against the root
        assert san(cert) == sorted(names), f"SNI {name}: {san(cert)}"
        assert cert.issuer != cert.subject, "still the temporary self-signed certificate"
    issued = orders()
    figures.append({"step": "converge's certificate: chain and names verified for each name",
                    "seconds": time.monotonic() - start,
                    "measured": f"{len(names)} names {names}; {issued} order(s) on pebble (this host's and its "
                    f"peer's); serial {cert.serial_number:x}"})
    assert issued == 2, ca_exec("journalctl", "-u", "pebble", "--no-pager", "-o", "cat")[-3000:]


def test_keys_stay_on_the_host_readable_by_root_only(host, app_name):
    key = host.file(f"/etc/nginx/tls/{app_name}/privkey.pem")
    assert key.is_symlink
    real = host.file(host.check_output(f"readlink -f /etc/nginx/tls/{app_name}/privkey.pem"))
    accounts = host.check_output("find /etc/letsencrypt/accounts -name private_key.json").split()
    assert accounts, "no ACME account key"
    for f in [real] + [host.file(path) for path in accounts]:
        # certbot writes the account key 0400, stricter than 0600.
        assert f.user == "root" and f.mode & 0o077 == 0 and f.mode & 0o600, (f.path, oct(f.mode))


def test_port_80_answers_challenges_and_redirects_the_rest(host, address, server_name, root):
    token = "asgi-uvicorn-probe"
    webroot = "/var/lib/asgi-uvicorn-acme/sample/.well-known/acme-challenge"
    host.check_output(f"mkdir -p {webroot} && echo probe-answer > {webroot}/{token}")
    try:
        answer = curl(address, server_name, f"/.well-known/acme-challenge/{token}", root, scheme="http")
        assert (answer.status, answer.body.strip()) == (200, "probe-answer"), answer
        other = curl(address, server_name, "/health", root, scheme="http")
        assert other.status == 301 and other.headers["location"] == f"https://{server_name}/health", other
        # A name the site does not serve gets nothing, challenge path or not.
        foreign = curl(address, "foreign.acme.test", f"/.well-known/acme-challenge/{token}", root, scheme="http")
        assert foreign.status == 0, foreign
    finally:
        host.check_output(f"rm -f {webroot}/{token}")


def test_renewal_timer_is_active(host):
    assert host.service("certbot.timer").is_enabled
    assert host.service("certbot.timer").is_running


def test_sslyze_mozilla_intermediate_fully_compliant(address, server_name, root, figures):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sslyze", "--mozilla_config=intermediate", "--certinfo_ca_file", str(root),
                           f"{server_name}:443{{{address}}}"], capture_output=True, text=True, timeout=300)
    print(proc.stdout[-2500:])
    figures.append({"step": "sslyze --mozilla_config=intermediate, pebble's root as trust store",
                    "seconds": time.monotonic() - start,
                    "measured": f"exit {proc.returncode}"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"{server_name}:443: OK - Compliant." in proc.stdout
    # The certificate checks ran and passed (not only protocols and ciphers).
    assert re.search(r"Supplied CA file CA Store.*OK - Certificate is trusted", proc.stdout), proc.stdout
    assert "Verified Chain:" in proc.stdout and "Pebble Root CA" in proc.stdout


