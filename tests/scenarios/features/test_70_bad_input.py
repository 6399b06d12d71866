"""A bad value of the optional features fails before the first change to a real host. Which
input fails which check, and with what message, is tests/inputs/ (on the controller alone, every
rule); this is the one case that proves it on the host.

As in the default scenario, the case deploys an app called `badinput` next to the working one:
afterwards nothing of `badinput` may exist and the working app's unit and site are untouched.
"""
from __future__ import annotations

from conftest import assert_bad_input_changes_nothing

STATIC = {"prefix": "/static/", "dir": "/srv/badinput/static"}


def test_bad_value_changes_nothing(host, app_name):
    # Two locations on one path: nginx -t would refuse it, but only after the play changed things.
    assert_bad_input_changes_nothing(host, app_name, {"proxy_limit_req": [{"prefix": "/static/", "rate": "10r/s"}],
                                                      "proxy_static_locations": [STATIC]},
                                     "proxy_static_locations, proxy_limit_req")
