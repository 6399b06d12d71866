"""A load balancer in front of two app hosts (playbooks/cluster.yml), each operation under a steady
HTTPS load through the load balancer (GET /host, 100 req/s).

The steps run in file order and build on each other: converge deployed VERSION 1 with 2 workers
per app host; a code change rolls VERSION 2 out; a unit change restarts each host out of the
pool; VERSION 3 fails its gate on the first host and stops the rollout; an app host is stopped
and started again.
"""
from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from conftest import (ADDRESS, APP, APPS, LB, SITE_FILE, UPSTREAM, Watch, app_release, current_release,
                      direct, down_servers, on, run_cluster, wait_for)

import testhost

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BROKEN_HEALTH = '''
from fastapi.responses import JSONResponse


@app.middleware("http")
async def broken_health(request, call_next):
    if request.url.path == "/health":
        return JSONResponse({"status": "broken"}, status_code=500)
    return await call_next(request)
'''
# The controller as the hosts of the cluster's network see it: that network's gateway.
CLIENT = ADDRESS[LB].rsplit(".", 1)[0] + ".1"
# What each deploy repeats (else the inventory's app_source would come back); a successful one
# updates it.
LIVE: dict = {}


def deploy(extra: dict) -> tuple[subprocess.CompletedProcess, float]:
    proc, seconds = run_cluster({**LIVE, **extra})
    if proc.returncode == 0:
        LIVE.update(extra)
    return proc, seconds


def host_line(output: str, app: str) -> tuple[str, int, list[int]]:
    """The play's line for an app host, '<host>: release <id>, <unit>.service MainPID <pid>, <n>
    workers [<pids>]' (the YAML callback may fold it): the release, MainPID and worker PIDs."""
    found = re.findall(rf"{app}: release (\w+), {APP}[.]service MainPID (\d+), \d+ workers \[([\d, ]*)\]",
                       " ".join(output.split()))
    assert len(found) == 1, f"no single line for {app} in the play's output"
    release_id, main_pid, pids = found[0]
    return release_id, int(main_pid), sorted(int(pid) for pid in pids.split(", ") if pid)


def proof(app: str) -> dict:
    """What `ps` shows of an app host's Uvicorn: the oracle for the workers module's answer."""
    main_pid, children = testhost.workers(app, APP)
    return {"workers": sorted(children.workers), "main_pid": main_pid}


def no_failures(report: dict) -> str:
    errors = on(LB, "tail", "-n", "15", "/var/log/nginx/error.log", check=False)
    return (f"{report['failed']} of {report['total']} requests failed: {report['failures']}\n"
            f"client: {report.get('failure_samples')}\nnginx error.log (last lines):\n{errors}")


def test_every_app_host_runs_uvicorn_on_its_private_address_without_nginx():
    site = on(LB, "cat", SITE_FILE)
    for app in APPS:
        assert f"server {UPSTREAM[app]} max_fails=1 fail_timeout=5s;" in site
        listening = on(app, "ss", "-Hltn")
        assert f"{UPSTREAM[app]} " in listening, listening
        assert "0.0.0.0:8000" not in listening and "*:8000" not in listening, listening
        assert on(app, "systemctl", "is-active", "nginx.service", check=False).strip() != "active"
        _, children = testhost.workers(app, APP)
        assert len(children.workers) == 2, children
    assert down_servers(site) == set()


def test_forged_forwarding_headers_through_the_lb_do_not_change_the_client(via_lb):
    forged = {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8", "Forwarded": "for=203.0.113.9",
              "X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example"}
    answer = via_lb("/request", headers=forged)
    assert answer.status == 200, answer.body
    seen = json.loads(answer.body)
    assert seen["client"] == CLIENT, seen
    assert seen["scheme"] == "https" and seen["host"] == LB, seen
    assert seen["forwarding_headers"]["x-forwarded-for"] == CLIENT, seen
    assert seen["forwarding_headers"]["forwarded"] is None, seen
    # Straight to an app host, not from a load balancer: Uvicorn believes none of it either.
    for app in APPS:
        out = subprocess.run(["curl", "-sS", "--max-time", "5", "-H", "X-Forwarded-For: 203.0.113.7",
                              "-H", "X-Forwarded-Proto: https", f"http://{UPSTREAM[app]}/request"],
                             capture_output=True, text=True, timeout=30)
        seen = json.loads(out.stdout)
        assert seen["client"] == CLIENT and seen["scheme"] == "http", seen


def state() -> dict:
    """What a deploy could change: the load balancer's site, and each app host's release and MainPID."""
    return {"site": on(LB, "sha256sum", SITE_FILE),
            **{app: (current_release(app), testhost.main_pid(app, APP)) for app in APPS}}


def test_bad_cluster_input_fails_before_any_change():
    """Which input fails which of the cluster's checks, and with what message, is tests/inputs/;
    this case proves on the hosts that a failed check changed nothing."""
    before = state()
    proc, _ = run_cluster({"cluster_address": "10.0.0.5; rm -rf /"})
    assert proc.returncode != 0, "bad input must fail the play"
    message = "cluster_address must be this host's private IPv4 or IPv6 address"
    assert message in " ".join((proc.stdout + proc.stderr).split()), proc.stdout[-2000:]
    assert state() == before


def nginx_processes(name: str) -> tuple[int, list[int]]:
    """nginx's master PID and its workers on a host: a reload keeps the master, not the workers."""
    master = testhost.main_pid(name, "nginx")
    return master, sorted(int(pid) for pid in on(name, "ps", "-o", "pid=", "--ppid", str(master)).split())


def test_rolling_code_deploy_drops_nothing(load, figures, tmp_path):
    before = {app: proof(app) for app in APPS}
    lb_before = (on(LB, "sha256sum", SITE_FILE), nginx_processes(LB))
    with load() as report, Watch() as watch:
        proc, seconds = deploy({"app_source": app_release(tmp_path, "2")})
    assert proc.returncode == 0, proc.stdout[-3000:]
    after = {app: proof(app) for app in APPS}
    for app in APPS:
        assert direct(app)["version"] == "2"
        assert after[app]["main_pid"] == before[app]["main_pid"], "a code change reloads in place"
        assert not set(after[app]["workers"]) & set(before[app]["workers"]), "every worker is new"
        release_id, main_pid, worker_pids = host_line(proc.stdout, app)
        assert (main_pid, worker_pids) == (after[app]["main_pid"], after[app]["workers"]), "the module's proof"
        assert current_release(app).endswith("/" + release_id)
    assert [down for _, down, _ in watch.samples if down] == [], "a reload keeps every host in the pool"
    assert (on(LB, "sha256sum", SITE_FILE), nginx_processes(LB)) == lb_before, \
        "a code deploy must leave the load balancer as it was (its site, and nginx not reloaded)"
    figures.append({"operation": "rolling code deploy (HUP per host, in the pool)", "load": report,
                    "measured": f"deploy {seconds:.0f} s; " + "; ".join(
                        f"{app.rsplit('-', 1)[1]}: {len(after[app]['workers'])} new workers" for app in APPS)})
    assert report["failed"] == 0, no_failures(report)


def test_restart_takes_each_host_out_of_the_pool(load, figures):
    before = {app: proof(app)["main_pid"] for app in APPS}
    assert all(before.values())
    # A unit option: the service must restart.
    with load() as report, Watch() as watch:
        proc, seconds = deploy({"service_timeout_graceful_shutdown": 20})
    assert proc.returncode == 0, proc.stdout[-3000:]
    after = {app: proof(app)["main_pid"] for app in APPS}
    # The first time the watch saw a host's MainPID change (stopped, or a new one), the load
    # balancer already marked it down.
    for app in APPS:
        changed = [down for _, down, pids in watch.samples if pids[app] != before[app]]
        assert changed, f"{app} was never seen restarting"
        assert UPSTREAM[app] in changed[0], f"{app} restarted while in the load balancer's pool: {changed[0]}"
    assert all(len(down) <= 1 for _, down, _ in watch.samples), "one host at a time"
    assert down_servers(on(LB, "cat", SITE_FILE)) == set(), "every host back in the pool"
    seen_down = {app: sum(UPSTREAM[app] in down for _, down, _ in watch.samples) * 0.3 for app in APPS}
    figures.append({"operation": "unit change: restart, each host out of the pool", "load": report,
                    "measured": f"deploy {seconds:.0f} s; " + "; ".join(
                        f"{app.rsplit('-', 1)[1]}: new MainPID, down ~{seen_down[app]:.0f} s" for app in APPS)})
    for app in APPS:
        assert after[app] != before[app], f"{app} did not restart"
    assert report["failed"] == 0, no_failures(report)


def test_failed_gate_rolls_back_and_stops_the_rollout(load, figures, tmp_path):
    live = {app: current_release(app) for app in APPS}
    second_before = proof(APPS[1])
    with load() as report:
        proc, seconds = deploy({"app_source": app_release(tmp_path, "3", BROKEN_HEALTH)})
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "a release that fails its gate must fail the play"
    message = re.search(r"Release (\w+) failed the health gate: (.*)", output)
    assert message and "answered 500" in message.group(2), output[-3000:]
    first, second = APPS
    assert f"Rolled back to release {live[first].rsplit('/', 1)[1]}" in output, output[-2000:]
    assert proof(second) == second_before, "the rollout must stop before the second host: its service untouched"
    for app in APPS:
        assert current_release(app) == live[app], f"{app} must keep the release that was live"
        assert direct(app)["version"] == "2"
    assert down_servers(on(LB, "cat", SITE_FILE)) == set()
    figures.append({"operation": "VERSION 3 fails its gate on the first host: rolled back, rollout stopped",
                    "load": report, "measured": f"play failed after {seconds:.0f} s; both hosts on VERSION 2"})
    assert report["failed"] == 0, no_failures(report)


def test_stopped_app_host_is_skipped_and_rejoins(load, figures, via_lb):
    victim = APPS[1]

    def lb_errors() -> int:
        """The load balancer's error log lines about the victim (a failed try takes it out)."""
        log = on(LB, "cat", "/var/log/nginx/error.log", check=False)
        return sum(UPSTREAM[victim] in line for line in log.splitlines())

    def serves() -> bool:
        try:
            return bool(direct(victim))
        except (AssertionError, ValueError):
            return False

    with load() as report:
        errors = lb_errors()
        stopped = time.monotonic()
        testhost.docker("stop", victim)
        wait_for(lambda: lb_errors() > errors, "the load balancer failing a request to the stopped host", timeout=60)
        testhost.docker("start", victim)
        wait_for(serves, f"{victim} serving after its start", timeout=90)
        back = time.monotonic() - stopped
        # After fail_timeout the load balancer tries it again.
        wait_for(lambda: json.loads(via_lb("/host").body)["host"] == victim, "the load balancer sending to it again",
                 timeout=30, interval=0.2)
    served_by = {json.loads(via_lb("/host").body)["host"] for _ in range(30)}
    figures.append({"operation": f"docker stop / start of {victim.rsplit('-', 1)[1]}", "load": report,
                    "measured": f"serving again {back:.0f} s after the stop; then both hosts answer"})
    assert served_by == set(APPS), f"answered by {served_by}"
    assert report["failed"] == 0, no_failures(report)
