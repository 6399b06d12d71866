"""playbooks/remove.yml takes the second app off the host while the sample app serves under load:
a check-mode run says what it would remove and removes nothing, the run removes it, a second run
changes nothing, and then nothing of the app is left on the host: no user, group, path, unit or
site, and its name gets the default server's refusal. Runs last: it removes what other checks use.
"""
from __future__ import annotations

import json
import time

import pytest

from conftest import SECOND, changed_tasks, curl, load_through_nginx, run_deploy

# The roles' own logic, the same on every OS and ansible-core line.
pytestmark = pytest.mark.first_leg_only

APP = SECOND["app_name"]
# Where an app's files go; any name there with the app's in it is a leftover.
SCANNED = "/srv /etc /var/lib/asgi-uvicorn-* /var/log/nginx /run"


def leftovers(host) -> list[str]:
    """Everything of the app the host still has (empty once it is removed)."""
    found = [f"user {APP}"] * host.user(APP).exists + [f"group {APP}"] * host.group(APP).exists
    found += host.run(f"find {SCANNED} -name '*{APP}*' -print 2>/dev/null").stdout.split()
    found += ["unit " + line.split()[0] for line in host.run(
        f"systemctl list-units --all --plain --no-legend '{APP}*'; systemctl list-unit-files --plain --no-legend '{APP}*'"
    ).stdout.splitlines() if line.strip()]
    found += ["nginx -T: " + line.strip() for line in host.run("nginx -T 2>/dev/null").stdout.splitlines()
              if SECOND["server_name"] in line]
    return found


def remove(check: bool = False) -> dict:
    proc = run_deploy({"app_name": APP}, check=check, playbook="remove.yml", as_json=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


def removed(report: dict) -> list[str]:
    """The paths the run's asgi.uvicorn.files tasks removed (in check mode: would remove)."""
    return [path for play in report["plays"] for task in play["tasks"] for result in task["hosts"].values()
            for path in result.get("removed", [])]


def test_remove_takes_the_app_away_and_the_other_keeps_serving(host, second_app, address, server_name, cacert):
    second = curl(address, SECOND["server_name"], "/health", second_app["cacert"])
    assert second.status == 200, second.error
    before = leftovers(host)
    assert f"/srv/{APP}" in before and f"user {APP}" in before and f"unit {APP}.service" in before, before

    # nginx's reload closes idle keep-alive connections; a GET sent on one at that instant is sent
    # again on a new connection, as HTTP clients do (RFC 9112, 9.3.1), and counted apart.
    start = time.monotonic()
    with load_through_nginx(server_name, address, cacert, rate=100, duration=300, retry_reused=True) as load:
        checked = remove(check=True)
        assert leftovers(host) == before, "the check-mode run removed something"
        removed_in_check = removed(checked)
        timed = time.monotonic()
        done = remove()
        seconds = time.monotonic() - timed
        again = remove()
    print(f"\nremove.yml: the removal {seconds:.1f} s, check + removal + second run {time.monotonic() - start:.1f} s; "
          f"the sample app under load meanwhile: {load['failed']} of {load['total']} requests failed "
          f"({load['retried_reused']} GETs sent again after a keep-alive close)")

    would = [f"/etc/nginx/sites-enabled/{APP}.conf", f"/etc/nginx/sites-available/{APP}.conf", f"/etc/nginx/tls/{APP}",
             f"/etc/systemd/system/{APP}.service", f"/etc/systemd/system/{APP}.socket", f"/etc/{APP}", f"/srv/{APP}"]
    assert [path for path in would if path not in removed_in_check] == [], removed_in_check
    assert any(changed_tasks(checked).values()), "the check-mode run reported no change"
    assert removed(done) == removed_in_check
    assert changed_tasks(again) == {host: [] for host in again["stats"]}, changed_tasks(again)
    assert load["failed"] == 0 and load["total"] > 0, (load["failures"], load["failure_samples"])

    assert leftovers(host) == []
    # Its name now gets the default server: no TLS handshake on 443, a closed connection on 80.
    answer = curl(address, SECOND["server_name"], "/health", second_app["cacert"])
    assert answer.status == 0 and answer.rc != 0, (answer.status, answer.body)
    plain = curl(address, SECOND["server_name"], "/health", second_app["cacert"], scheme="http")
    assert plain.status == 0 and plain.rc != 0, (plain.status, plain.headers)
    assert curl(address, server_name, "/health", cacert).status == 200
