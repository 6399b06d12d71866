"""Booleans given as strings, as `-e name=false` gives them on the command line, are read as
booleans: the scenario sets proxy_http2 and proxy_hsts_include_subdomains to "false"."""
from __future__ import annotations

import subprocess


def test_http2_off_as_a_string(server_name, address, cacert):
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_version}", "--http2", "--max-time", "10",
                          "--cacert", str(cacert), "--resolve", f"{server_name}:443:{address}",
                          f"https://{server_name}/health"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "1.1", f"nginx offered HTTP/{out.stdout} over ALPN with proxy_http2 'false'"


def test_hsts_without_subdomains_as_a_string(https):
    _, headers, _ = https("/health")
    assert headers["strict-transport-security"] == "max-age=63072000", headers
