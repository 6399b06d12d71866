"""cluster_tls: TLS with client certificates between the load balancer and the app hosts, from the
collection's CA on the controller (molecule/cluster/molecule.yml puts it in the scenario's
ephemeral directory). Runs after test_cluster.py (file order) and leaves the cluster on TLS.

The same sequential load through the load balancer is timed on plain HTTP first and on TLS last.
"""
from __future__ import annotations

import json

import pytest
from conftest import ADDRESS, APP, APPS, LB, UPSTREAM, on, pool, run_cluster

import testhost
from scenario import changed_tasks, requests_through_nginx, run_deploy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TLS = {"cluster_tls": True}
# The load balancer's copies of the CA and of its client certificate (the balancer role's files).
LB_CA, LB_CLIENT = f"/etc/haproxy/{APP}-ca.pem", f"/etc/haproxy/{APP}-client.pem"
TIMED: dict[str, dict] = {}


def timed(cluster_cacert) -> dict:
    """500 GET /host through the load balancer, one at a time, 50 per second: loadclient's report."""
    return requests_through_nginx(LB, ADDRESS[LB], cluster_cacert, "/host", requests=500, rate=50, concurrency=1,
                                  duration=30)


def served_by(via_lb) -> set[str]:
    answers = [via_lb("/host") for _ in range(20)]
    assert all(answer.status == 200 for answer in answers), [answer.body for answer in answers]
    return {json.loads(answer.body)["host"] for answer in answers}


# GET from the load balancer (the one source the app hosts' firewall lets in): the status, or
# "none" and the error when no HTTP answer came back.
LB_GET = """
import ssl, sys, urllib.error, urllib.request
url, ca, cert = sys.argv[1:4]
context = ssl.create_default_context(cafile=ca)
if cert:
    context.load_cert_chain(cert)
try:
    print(urllib.request.urlopen(url, context=context, timeout=5).status)
except urllib.error.HTTPError as error:
    print(error.code)
except Exception as error:
    print("none", type(error).__name__, error)
"""


def get_from_lb(url: str, client_cert: bool) -> str:
    return on(LB, "python3", "-c", LB_GET, url, LB_CA, LB_CLIENT if client_cert else "").strip()


def peer_certificate(app: str) -> str:
    """The app host's certificate as the load balancer gets it (openssl s_client with HAProxy's CA
    file and client certificate, verified, the address checked): issuer, SAN and serial."""
    address = ADDRESS[app]
    return on(LB, "sh", "-c",
              f"openssl s_client -connect {UPSTREAM[app]} -CAfile {LB_CA} -cert {LB_CLIENT} -verify_return_error "
              f"-verify_ip {address} </dev/null 2>/dev/null | openssl x509 -noout -issuer -serial -ext subjectAltName")


def test_plain_latency_through_the_lb(cluster_cacert):
    TIMED["plain"] = timed(cluster_cacert)
    assert TIMED["plain"]["failed"] == 0, TIMED["plain"]


def test_switching_tls_on(load, figures, via_lb):
    before = {app: testhost.main_pid(app, APP) for app in APPS}
    with load() as report:
        proc, seconds = run_cluster(TLS)
    assert proc.returncode == 0, proc.stdout[-3000:]
    figures.append({"operation": "cluster_tls switched on: HAProxy first, then each app host restarted", "load": report,
                    "measured": f"deploy {seconds:.0f} s; requests fail from HAProxy's switch until the first app "
                                "host serves TLS"})
    assert {server: status["state"] for server, status in pool().items()} == {UPSTREAM[app]: "up" for app in APPS}
    assert served_by(via_lb) == set(APPS)
    for app in APPS:
        assert testhost.main_pid(app, APP) != before[app], f"{app}: the unit changed, so it restarted"
        seen = peer_certificate(app)
        assert f"asgi.uvicorn cluster CA ({APP})" in seen and f"IP Address:{ADDRESS[app]}" in seen, seen


def test_the_app_port_refuses_plain_http_and_clients_without_a_certificate():
    for app in APPS:
        url = f"https://{ADDRESS[app]}:8000/health"
        assert get_from_lb(url, client_cert=True) == "200"
        refused = get_from_lb(url, client_cert=False)
        assert refused.startswith("none "), refused
        plain = get_from_lb(f"http://{UPSTREAM[app]}/health", client_cert=False)
        assert plain.startswith("none "), plain
        print(f"\n{app}: without a client certificate: {refused}; plain HTTP: {plain}")


def test_a_second_run_changes_nothing():
    proc = run_deploy(TLS, playbook="cluster.yml", as_json=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    changed = {host: tasks for host, tasks in changed_tasks(json.loads(proc.stdout)).items() if tasks}
    assert changed == {}, changed


def test_certificates_due_are_renewed_with_a_rolling_reload(load, figures, via_lb):
    before = {app: (testhost.main_pid(app, APP), peer_certificate(app)) for app in APPS}
    lb_client = on(LB, "sha256sum", LB_CLIENT)
    # Every certificate ends within 400 days (365 left): due, made again for 825.
    with load() as report:
        proc, seconds = run_cluster({**TLS, "cluster_tls_days": 825, "cluster_tls_renew_days": 400})
    assert proc.returncode == 0, proc.stdout[-3000:]
    figures.append({"operation": "cluster_tls certificates renewed: rolling reload, HAProxy reloaded", "load": report,
                    "measured": f"deploy {seconds:.0f} s"})
    for app in APPS:
        main_pid, seen = testhost.main_pid(app, APP), peer_certificate(app)
        assert main_pid == before[app][0], f"{app}: a new certificate reloads, it does not restart"
        assert seen != before[app][1] and "IP Address" in seen, (before[app][1], seen)
    assert on(LB, "sha256sum", LB_CLIENT) != lb_client, "the load balancer's client certificate renewed too"
    assert served_by(via_lb) == set(APPS)
    assert report["failed"] == 0, report


def test_tls_latency_against_plain(cluster_cacert, figures):
    TIMED["tls"] = timed(cluster_cacert)
    assert TIMED["tls"]["failed"] == 0, TIMED["tls"]
    plain, tls = (TIMED[mode]["latency_ms"] for mode in ("plain", "tls"))
    ratio = {key: tls[key] / plain[key] for key in ("p50", "p99")}
    for mode in ("plain", "tls"):
        figures.append({"operation": f"500 sequential GET /host at 50/s, LB to app hosts {mode.upper()}",
                        "load": TIMED[mode], "measured": "" if mode == "plain" else
                        f"TLS/plain: p50 x{ratio['p50']:.2f}, p99 x{ratio['p99']:.2f}"})
    print(f"\nLB -> app hosts, plain: p50 {plain['p50']} ms p99 {plain['p99']} ms; "
          f"TLS: p50 {tls['p50']} ms p99 {tls['p99']} ms; ratio p50 {ratio['p50']:.2f} p99 {ratio['p99']:.2f}")
