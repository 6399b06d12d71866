"""Bad input fails before the first change to the host, with a message naming the variable.

Each case deploys an app called `badinput` next to the working one: afterwards nothing of
`badinput` may exist on the host, and the working app's unit and site must be untouched.
"""
from __future__ import annotations

import pytest

from conftest import assert_bad_input_changes_nothing

CASES = [
    ({"workers": 0}, "service_workers"),
    ({"workers": -1}, "service_workers"),
    ({"workers": "abc"}, "service_workers"),
    ({"workers": 65}, "service_workers"),
    ({"server_name": "bad name.example.com"}, "proxy_server_name"),
    ({"server_name": "example.com;evil"}, "proxy_server_name"),
    ({"tls_mode": "provided", "tls_cert_file": "/nonexistent/cert.pem",
      "tls_key_file": "/nonexistent/key.pem"}, "tls_cert_file"),
    ({"app_module": "main.app"}, "service_app"),
    ({"proxy_trusted_proxies": ["10.0.0.1; allow all"]}, "proxy_trusted_proxies"),
    ({"tls_selfsigned_days": 825}, "tls_selfsigned_days"),
    ({"app_env": {"SECRET": "two\nlines"}}, "app_env"),
]


@pytest.mark.parametrize(("extra", "variable"), CASES, ids=[str(c[0]) for c in CASES])
def test_bad_input_changes_nothing(host, app_name, extra, variable):
    assert_bad_input_changes_nothing(host, app_name, extra, variable)
