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
import socket
import ssl
import subprocess
import time

import pytest
from conftest import (ADDRESS, APP, APPS, LB, SITE_FILE, UPSTREAM, Watch, app_release, current_release,
                      direct, drained, on, plain_load, pool, reach, run_cluster, run_cluster_with_apps, wait_for)

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
    haproxy = on(LB, "journalctl", "-u", "haproxy", "-n", "15", "--no-pager", check=False)
    return (f"{report['failed']} of {report['total']} requests failed: {report['failures']}\n"
            f"client: {report.get('failure_samples')}\nnginx error.log (last lines):\n{errors}\n"
            f"haproxy (last lines):\n{haproxy}")


def test_every_app_host_runs_uvicorn_on_its_private_address_without_nginx():
    site = on(LB, "cat", SITE_FILE)
    assert f"server unix:/run/haproxy/{APP}.sock max_fails=0;" in site, "nginx sends every request to HAProxy"
    assert {server: status["state"] for server, status in pool().items()} == {UPSTREAM[app]: "up" for app in APPS}
    for app in APPS:
        listening = on(app, "ss", "-Hltn")
        assert f"{UPSTREAM[app]} " in listening, listening
        assert "0.0.0.0:8000" not in listening and "*:8000" not in listening, listening
        assert on(app, "systemctl", "is-active", "nginx.service", check=False).strip() != "active"
        _, children = testhost.workers(app, APP)
        assert len(children.workers) == 2, children


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
    # Straight to an app host, past the load balancer, no header reaches the app at all: the port
    # refuses every source but the load balancers (the next check).


def test_an_idle_websocket_outlives_the_read_timeout(cluster_cacert):
    """HAProxy's `timeout server` bounds the wait for an HTTP answer (a hung host costs seconds);
    an upgraded connection has `timeout tunnel` instead, so a WebSocket left idle for longer than
    the read timeout still echoes on the same connection."""
    from websockets.sync.client import connect

    read_timeout = int(re.search(r"^\s*timeout server (\d+)s$", on(LB, "cat", "/etc/haproxy/haproxy.cfg"), re.M).group(1))
    context = ssl.create_default_context(cafile=str(cluster_cacert))
    sock = socket.create_connection((ADDRESS[LB], 443), timeout=10)
    with connect(f"wss://{LB}/ws", sock=sock, ssl=context, server_hostname=LB, open_timeout=10) as ws:
        ws.send("before")
        before = ws.recv(timeout=10)
        # The idle time is what is checked: there is no condition to wait for.
        time.sleep(read_timeout + 2)
        ws.send("after")
        after = ws.recv(timeout=10)
    print(f"\nWebSocket through the load balancer: idle {read_timeout + 2} s (timeout server {read_timeout} s), "
          f"then echoed {after!r}")
    worker = before.split(":")[0]
    assert (before, after) == (f"{worker}:before", f"{worker}:after"), (before, after)


def test_only_the_load_balancers_reach_the_app_port():
    """The service role's nftables table on each app host (service_firewall, on in a cluster):
    Uvicorn's port answers the load balancer and the host itself, and refuses the other app host
    and the controller (through the Docker bridge)."""
    first, second = APPS
    seen = {f"{source.rsplit('-', 1)[-1]} -> {app.rsplit('-', 1)[1]}": reach(source, app)
            for source, app in [(LB, first), (LB, second), (first, first), ("controller", first),
                                ("controller", second), (second, first), (first, second)]}
    print(f"\napp port (8000) from each source: {seen}")
    assert [answer for answer, _ in seen.values()] == ["200"] * 3 + ["refused"] * 4, seen
    for app in APPS:
        assert on(app, "systemctl", "is-enabled", f"asgi-uvicorn-firewall@{APP}.service").strip() == "enabled"
        assert f"table inet asgi_uvicorn_{APP}" in on(app, "nft", "list", "tables")
    # A table of the user's, which the next deploys must leave as it is.
    on(first, "nft", "add", "table", "inet", "users_own")


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
    assert [down for _, down, _ in watch.samples if down] == [], "a reload drains no host"
    assert (on(LB, "sha256sum", SITE_FILE), nginx_processes(LB)) == lb_before, \
        "a code deploy must leave the load balancer as it was (its site, and nginx not reloaded)"
    figures.append({"operation": "rolling code deploy (HUP per host, in the pool)", "load": report,
                    "measured": f"deploy {seconds:.0f} s; " + "; ".join(
                        f"{app.rsplit('-', 1)[1]}: {len(after[app]['workers'])} new workers" for app in APPS)})
    assert report["failed"] == 0, no_failures(report)


def test_restart_takes_each_host_out_of_the_pool(load, figures):
    before = {app: proof(app)["main_pid"] for app in APPS}
    assert all(before.values())
    # A unit option: the service must restart. The same deploy lets the controller reach the app
    # port too (cluster_firewall_allow): the firewall follows the deploy's list.
    with load() as report, Watch() as watch:
        proc, seconds = deploy({"service_timeout_graceful_shutdown": 20, "cluster_firewall_allow": [CLIENT]})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {app: reach("controller", app)[0] for app in APPS} == {app: "200" for app in APPS}
    assert reach(APPS[0], APPS[1])[0] == "refused"
    assert "table inet users_own" in on(APPS[0], "nft", "list", "tables"), "the user's table stays"
    after = {app: proof(app)["main_pid"] for app in APPS}
    # The first time the watch saw a host's MainPID change (stopped, or a new one), the load
    # balancer already marked it down.
    for app in APPS:
        changed = [down for _, down, pids in watch.samples if pids[app] != before[app]]
        assert changed, f"{app} was never seen restarting"
        assert UPSTREAM[app] in changed[0], f"{app} restarted while in the load balancer's pool: {changed[0]}"
    assert all(len(down) <= 1 for _, down, _ in watch.samples), "one host at a time"
    assert drained() == set(), "every host back in the pool"
    seen_down = {app: sum(UPSTREAM[app] in down for _, down, _ in watch.samples) * 0.3 for app in APPS}
    figures.append({"operation": "unit change: restart, each host drained first", "load": report,
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
    assert drained() == set()
    figures.append({"operation": "VERSION 3 fails its gate on the first host: rolled back, rollout stopped",
                    "load": report, "measured": f"play failed after {seconds:.0f} s; both hosts on VERSION 2"})
    assert report["failed"] == 0, no_failures(report)


def test_stopped_app_host_is_skipped_and_rejoins(load, figures, via_lb):
    victim = APPS[1]

    def state() -> str:
        return pool()[UPSTREAM[victim]]["state"]

    # The distribution's nftables.service (its ruleset begins with "flush ruleset") leaves the
    # table in place; the restart below brings back Docker's own rules, which it flushes too.
    on(victim, "systemctl", "restart", "nftables.service")
    tables = on(victim, "nft", "list", "tables")
    assert "table inet filter" in tables and f"table inet asgi_uvicorn_{APP}" in tables, tables
    assert reach(APPS[0], victim)[0] == "refused"
    with load() as report:
        stopped = time.monotonic()
        testhost.docker("stop", victim)
        wait_for(lambda: state() == "down", "the load balancer taking the stopped host out", timeout=60, interval=0.2)
        out = time.monotonic() - stopped
        testhost.docker("start", victim)
        wait_for(lambda: state() == "up", "the load balancer taking the host back", timeout=120, interval=0.2)
        back = time.monotonic() - stopped
    served_by = {json.loads(via_lb("/host").body)["host"] for _ in range(30)}
    # The firewall came back with the host's boot: the other app host is refused, the controller
    # (cluster_firewall_allow since the restart's deploy) served.
    assert (reach(APPS[0], victim)[0], reach("controller", victim)[0]) == ("refused", "200")
    figures.append({"operation": f"docker stop / start of {victim.rsplit('-', 1)[1]}", "load": report,
                    "measured": f"out of rotation {out:.1f} s after the stop; back {back:.0f} s after it"})
    assert served_by == set(APPS), f"answered by {served_by}"
    assert report["failed"] == 0, no_failures(report)


# The same load balancer with nginx alone in front of the app hosts, as the proxy role writes a
# host:port upstream (passive checks: max_fails=1 fail_timeout=5s, retry on error and timeout),
# with HAProxy's connect and read timeouts, on plain HTTP beside the site: the engine the
# collection did not choose, measured in the same run against the same frozen host.
NGINX_ONLY_PORT = 8081
NGINX_ONLY = f"""upstream compare_nginx_only {{
    server {UPSTREAM[APPS[0]]} max_fails=1 fail_timeout=5s;
    server {UPSTREAM[APPS[1]]} max_fails=1 fail_timeout=5s;
    keepalive 32;
    keepalive_timeout 4s;
}}
server {{
    listen {ADDRESS[LB]}:{NGINX_ONLY_PORT};
    location / {{
        proxy_pass http://compare_nginx_only;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_connect_timeout 2s;
        proxy_read_timeout 10s;
        proxy_next_upstream error timeout;
    }}
}}
"""
READ_TIMEOUT = 10  # balancer_timeout_server's default, and NGINX_ONLY's proxy_read_timeout


def frozen_figures(report: dict, frozen: float, thawed: float) -> dict:
    """From a --record report: requests slower than 1 s, the slowest, and over which span after
    the freeze the slow ones were sent (how long the frozen host still got requests)."""
    slow = [(start, end) for start, end, failed in report["requests"] if end - start > 1 and not failed]
    return {"slow": len(slow), "max_s": max((end - start for start, end, _ in report["requests"]), default=0),
            "last_slow_sent_s": max((start - frozen for start, _ in slow), default=0),
            "frozen_s": thawed - frozen}


def test_frozen_app_host_costs_seconds_not_failures(load, figures):
    """One app host frozen (docker pause: every process stopped, the kernel still accepts its
    connections) for 20 s under load, through HAProxy (the site) and through nginx alone (port
    8081) at once, 50 requests/s each."""
    victim = APPS[1]
    on(LB, "sh", "-c", f"cat > /etc/nginx/conf.d/zz-compare-nginx-only.conf <<'EOF'\n{NGINX_ONLY}EOF\n")
    on(LB, "nginx", "-t", "-q")
    on(LB, "systemctl", "reload", "nginx")
    try:
        with load(rate=50, record=True) as haproxy_report, plain_load(NGINX_ONLY_PORT, rate=50) as nginx_report:
            frozen = time.monotonic()
            testhost.docker("pause", victim)
            try:
                wait_for(lambda: pool()[UPSTREAM[victim]]["state"] == "down", "HAProxy taking the frozen host out",
                         timeout=30, interval=0.1)
                out = time.monotonic() - frozen
                # The host stays frozen 20 s in all: that is the case measured.
                time.sleep(max(0.0, 20 - (time.monotonic() - frozen)))
            finally:
                testhost.docker("unpause", victim)
            thawed = time.monotonic()
            wait_for(lambda: pool()[UPSTREAM[victim]]["state"] == "up", "HAProxy taking the thawed host back",
                     timeout=30, interval=0.1)
            back = time.monotonic() - thawed
    finally:
        on(LB, "rm", "-f", "/etc/nginx/conf.d/zz-compare-nginx-only.conf")
        on(LB, "systemctl", "reload", "nginx")
    engines = {"HAProxy": frozen_figures(haproxy_report, frozen, thawed),
               "nginx alone": frozen_figures(nginx_report, frozen, thawed)}
    figures.append({"operation": f"{victim.rsplit('-', 1)[1]} frozen {engines['HAProxy']['frozen_s']:.0f} s: HAProxy "
                                 "(active checks)", "load": haproxy_report,
                    "measured": f"out {out:.1f} s after the freeze, back {back:.1f} s after the thaw; "
                                f"{engines['HAProxy']['slow']} requests > 1 s, slowest {engines['HAProxy']['max_s']:.1f} s"})
    figures.append({"operation": f"the same freeze: nginx alone (passive, max_fails=1 fail_timeout=5s)",
                    "load": nginx_report,
                    "measured": f"{engines['nginx alone']['slow']} requests > 1 s, slowest "
                                f"{engines['nginx alone']['max_s']:.1f} s, the last sent "
                                f"{engines['nginx alone']['last_slow_sent_s']:.1f} s after the freeze"})
    print(f"\nfrozen host, HAProxy: out {out:.2f} s, back {back:.2f} s; per engine: {engines}")
    assert haproxy_report["failed"] == 0, no_failures(haproxy_report)
    assert out <= 3, f"HAProxy took {out:.1f} s to take the frozen host out"
    assert back <= 3, f"HAProxy took {back:.1f} s to take the thawed host back"
    assert engines["HAProxy"]["max_s"] <= READ_TIMEOUT + 1, engines


def test_a_playbook_whose_target_matches_no_host_fails():
    for playbook, extra in (("deploy.yml", {"target": "no_such_group"}), ("rollback.yml", {"target": "no_such_group"}),
                            ("maintenance.yml", {"target": "no_such_group", "state": "on"}),
                            ("cluster.yml", {"cluster_app_group": "no_such_group"})):
        proc, _ = run_cluster(extra, playbook=playbook)
        output = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode != 0, f"{playbook} with a target that matches nothing must fail"
        assert "'no_such_group' matches no host of the inventory" in output, output[-2000:]


def test_maintenance_switches_every_load_balancer_without_a_target(via_lb):
    try:
        proc, _ = run_cluster({"state": "on"}, playbook="maintenance.yml")
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert via_lb("/host").status == 503
        assert via_lb("/health").status == 200, "the health path still reaches the app"
    finally:
        proc, _ = run_cluster({"state": "off"}, playbook="maintenance.yml")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert via_lb("/host").status == 200


def test_an_app_host_leaves_drained_and_joins_after_its_gate(load, figures):
    """Scale in: the cluster playbook with app2 gone from the app hosts' group drains it on the load
    balancer, then drops it from HAProxy; app2's service is stopped (the runbook's next step).
    Scale out: with app2 back in the group, app2 starts, passes its health gate, and only then
    joins the pool. app1's service is untouched by both; neither costs a request. The scale-in run
    also turns the firewall off (cluster_firewall: false) on app1, its one app host: the table goes;
    the scale-out run brings it back."""
    first, second = APPS
    untouched = proof(first)
    table = f"table inet asgi_uvicorn_{APP}"
    with load() as report, Watch() as watch:
        proc, out_seconds = run_cluster_with_apps([first], {**LIVE, "cluster_firewall": False})
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert set(pool()) == {UPSTREAM[first]}, pool()
        on(second, "systemctl", "stop", f"{APP}.service")
    assert any(UPSTREAM[second] in down for _, down, _ in watch.samples), "app2 left without a drain"
    assert table not in on(first, "nft", "list", "tables") and table in on(second, "nft", "list", "tables")
    assert on(first, "systemctl", "is-enabled", f"asgi-uvicorn-firewall@{APP}.service", check=False).strip() \
        == "disabled"
    assert reach(second, first)[0] == "200", "with the firewall off, the other app host reaches app1"
    figures.append({"operation": "scale in: cluster.yml without app2 (drained, then dropped)", "load": report,
                    "measured": f"deploy {out_seconds:.0f} s; app2 drained ~"
                                f"{sum(UPSTREAM[second] in down for _, down, _ in watch.samples) * 0.3:.1f} s"})
    assert report["failed"] == 0, no_failures(report)

    with load() as report, Watch() as watch:
        proc, in_seconds = deploy({})
        ended = time.monotonic()
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {server: status["state"] for server, status in pool().items()} == {UPSTREAM[app]: "up" for app in APPS}
    # Before the change, HAProxy got app2 at the start of the run, while its service was still down.
    samples = list(zip(watch.samples, watch.members))
    assert not [t for (t, _, pids), members in samples if UPSTREAM[second] in members and not pids[second]], \
        "app2 was in the pool before its service ran"
    started = min(t for (t, _, pids), _ in samples if pids[second])
    joined = min((t for (t, _, _), members in samples if UPSTREAM[second] in members), default=ended)
    release_id, _, _ = host_line(proc.stdout, second)  # the play's line for app2, after its gate
    assert current_release(second).endswith("/" + release_id)
    assert proof(first) == untouched, "app1 untouched: same MainPID and workers"
    assert table in on(first, "nft", "list", "tables") and reach(second, first)[0] == "refused"
    figures.append({"operation": "scale out: cluster.yml with app2 back (joins after its gate)", "load": report,
                    "measured": f"deploy {in_seconds:.0f} s; app2 joined {joined - started:.1f} s after its "
                                "service started; app1 untouched"})
    assert report["failed"] == 0, no_failures(report)


def test_rollback_without_a_target_drains_each_host_and_ends_on_one_release(load, figures):
    live = {app: current_release(app) for app in APPS}
    previous = {app: on(app, "readlink", f"/srv/{APP}/previous").strip() for app in APPS}
    assert len(set(live.values())) == 1 and len(set(previous.values())) == 1, (live, previous)
    with load() as report, Watch() as watch:
        proc, seconds = run_cluster({}, playbook="rollback.yml")
    assert proc.returncode == 0, proc.stdout[-3000:]
    for app in APPS:
        assert current_release(app) == previous[app], f"{app} must serve the previous release"
        assert any(UPSTREAM[app] in down for _, down, _ in watch.samples), f"{app} was never drained"
    assert "Every app host serves release" in proc.stdout
    assert all(len(down) <= 1 for _, down, _ in watch.samples), "one host at a time"
    assert drained() == set(), "every host back in the pool"
    versions = {direct(app)["version"] for app in APPS}
    figures.append({"operation": "rollback.yml, no target: each app host drained, reloaded, gated", "load": report,
                    "measured": f"rollback {seconds:.0f} s; every host on {previous[APPS[0]].rsplit('/', 1)[1]}, "
                                f"VERSION {versions}"})
    assert report["failed"] == 0, no_failures(report)

