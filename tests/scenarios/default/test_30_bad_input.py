"""Bad input fails before the first change to a real host. Which input fails which check, and
with what message, is tests/inputs/ (on the controller alone, every rule); this is the one case
that proves, on the host, that a failed check left it as it was.

The case deploys an app called `badinput` next to the working one with a value only the last of
the checks (the proxy role's) refuses: afterwards nothing of `badinput` may exist on the host,
and the working app's unit and site must be untouched.
"""
from __future__ import annotations

from conftest import assert_bad_input_changes_nothing


def test_bad_input_changes_nothing(host, app_name):
    assert_bad_input_changes_nothing(host, app_name, {"proxy_trusted_proxies": ["10.0.0.1; allow all"]},
                                     "proxy_trusted_proxies")
