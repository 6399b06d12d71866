"""Every new variable, given a bad value, fails before the first change to the host, naming it.

As in the default scenario, each case deploys an app called `badinput` next to the working one:
afterwards nothing of `badinput` may exist and the working app's unit and site are untouched.
"""
from __future__ import annotations

import pytest

from conftest import assert_bad_input_changes_nothing

STATIC = {"prefix": "/static/", "dir": "/srv/badinput/static"}
CASES = [
    ({"proxy_static_locations": [{"prefix": "/static", "dir": "/srv/badinput/static"}]}, "proxy_static_locations"),
    ({"proxy_static_locations": [{"prefix": "/static/", "dir": "static"}]}, "proxy_static_locations"),
    ({"proxy_static_locations": [{"prefix": "/static/", "dir": "/srv/x/../../etc"}]}, "proxy_static_locations"),
    ({"proxy_static_locations": [{**STATIC, "max_age": -1}]}, "proxy_static_locations"),
    ({"proxy_static_locations": ["/static/"]}, "proxy_static_locations"),
    ({"proxy_static_locations": [STATIC], "proxy_static_owner": "bad user"}, "proxy_static_owner"),
    ({"proxy_stub_status_path": "/status; allow all"}, "proxy_stub_status_path"),
    ({"proxy_access_log_format": "xml"}, "proxy_access_log_format"),
    ({"proxy_limit_req": [{"prefix": "/api/", "rate": "10/s"}]}, "proxy_limit_req"),
    ({"proxy_limit_req": [{"prefix": "/api/", "rate": "10r/s", "burst": -1}]}, "proxy_limit_req"),
    ({"proxy_limit_req": [{"prefix": "api", "rate": "10r/s"}]}, "proxy_limit_req"),
    ({"proxy_limit_req": [{"prefix": "/static/", "rate": "10r/s"}], "proxy_static_locations": [STATIC]},
     "proxy_static_locations, proxy_limit_req"),
    ({"proxy_maintenance_switch": "maybe"}, "proxy_maintenance_switch"),
    ({"proxy_maintenance_retry_after": 0}, "proxy_maintenance_retry_after"),
    ({"proxy_error_pages": "maybe"}, "proxy_error_pages"),
    ({"proxy_health_path": "health"}, "proxy_health_path"),
    ({"proxy_lb_health_port": 70000}, "proxy_lb_health_port"),
    ({"proxy_lb_health_port": 443}, "proxy_lb_health_port"),
    ({"service_prometheus_multiproc": "maybe"}, "service_prometheus_multiproc"),
    ({"service_limit_concurrency": -5}, "service_limit_concurrency"),
    ({"service_backlog": 100000}, "service_backlog"),
    ({"service_launcher": "fastapi", "service_bind": "tcp", "service_backlog": 100}, "service_backlog"),
]


@pytest.mark.parametrize(("extra", "variable"), CASES, ids=[str(c[0])[:80] for c in CASES])
def test_bad_value_changes_nothing(host, app_name, extra, variable):
    assert_bad_input_changes_nothing(host, app_name, extra, variable)
