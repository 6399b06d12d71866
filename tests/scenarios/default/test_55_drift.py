"""A deploy puts back whatever was changed by hand on the host: the roles ask the host once which
of their files differ (asgi.uvicorn.files) and write only those, so that question must miss nothing.
"""
from __future__ import annotations

import pytest

from conftest import SECOND, SECOND_SHARED, curl, run_deploy, second_app_vars

# The roles' own logic, the same on every OS and ansible-core line.
pytestmark = pytest.mark.first_leg_only

APP = SECOND["app_name"]
# Each path, what is done to it by hand, and how it must be again after the deploy.
UNIT = f"/etc/systemd/system/{APP}.service"
WORKERS_CONF = f"/etc/systemd/system/{APP}.service.d/workers.conf"
ENV_FILE = f"/etc/{APP}/env"
SITE = f"/etc/nginx/sites-available/{APP}.conf"
SITE_LINK = f"/etc/nginx/sites-enabled/{APP}.conf"
DEFAULT_SITE = "/etc/nginx/sites-enabled/default"
CHECKER = "/usr/local/sbin/asgi-uvicorn-nginx-check-site"
TAMPER = " && ".join([
    f"chmod 0600 {UNIT}",
    f"echo '# by hand' >> {WORKERS_CONF}",
    f"chmod 0644 {ENV_FILE}",  # world-readable secrets
    f"chmod 0777 {SECOND_SHARED}",
    f"echo '# by hand' >> {SITE}",
    f"ln -sf {SITE}.dpkg-old {SITE_LINK}",
    f"ln -sf /etc/nginx/sites-available/default {DEFAULT_SITE}",
    f"chown nobody {CHECKER}",
])


def test_a_deploy_puts_back_what_was_changed_by_hand(host, second_app, client_address, address):
    before = {path: host.file(path).content_string for path in (WORKERS_CONF, SITE)}
    host.check_output(TAMPER)

    proc = run_deploy(second_app_vars(client_address))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]

    assert host.file(UNIT).mode == 0o644
    assert host.file(ENV_FILE).mode == 0o640
    assert host.file(SECOND_SHARED).mode == 0o750
    assert host.file(CHECKER).user == "root"
    assert not host.file(DEFAULT_SITE).exists
    assert host.file(SITE_LINK).linked_to == SITE
    assert {path: host.file(path).content_string for path in before} == before
    answer = curl(address, SECOND["server_name"], "/health", second_app["cacert"])
    assert answer.status == 200, answer.error
