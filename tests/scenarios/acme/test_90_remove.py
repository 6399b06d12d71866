"""playbooks/remove.yml on a host whose certificate came from the ACME CA: certbot deletes the
lineage and its renewal, so its timer never orders it again, and nothing of the app is left; a
second run changes nothing. The peer host is the one removed, and the first host keeps serving
its certificate. Runs last: the peer is gone afterwards."""
from __future__ import annotations

import json

from conftest import PEER, served

import testhost
from scenario import changed_tasks, run_deploy

testinfra_hosts = ["ansible://asgi_uvicorn"]


def on_peer(*cmd: str, check: bool = True) -> str:
    return testhost.host_exec(PEER, *cmd, check=check)


def leftovers(app: str) -> list[str]:
    """Paths with the app's name where the deploy wrote, and certbot's lineages of it."""
    found = on_peer("sh", "-c", f"find /srv /etc /var/lib/asgi-uvicorn-* /run -name '*{app}*' -print 2>/dev/null",
                    check=False).split()
    return found + [line.strip() for line in on_peer("certbot", "certificates").splitlines()
                    if line.strip().startswith("Certificate Name:")]


def remove(app: str) -> dict:
    proc = run_deploy({"app_name": app, "target": "acme_peer"}, playbook="remove.yml", as_json=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_remove_deletes_the_lineage_and_its_renewal(host, app_name, server_name, root):
    before = leftovers(app_name)
    assert f"/etc/letsencrypt/renewal/{app_name}.conf" in before, before
    assert f"Certificate Name: {app_name}" in before, before

    done, again = remove(app_name), remove(app_name)

    assert leftovers(app_name) == []
    assert changed_tasks(done)[PEER], "the removal reported no change"
    assert not any(changed_tasks(again).values()), changed_tasks(again)
    # The other host of the names still serves its own CA-issued certificate.
    cert = served(testhost.ip(host.backend.get_hostname()), server_name, root)
    assert cert.issuer != cert.subject
