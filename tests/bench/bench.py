#!/usr/bin/env python3
"""Benchmark of the deployed stack against direct Uvicorn and the naive set-up (issue 7).

`make bench` runs `tests/bench/bench.py --update-docs`; `make bench-smoke` runs `--smoke`.

One run, on one local systemd test host (container `asgi-uvicorn-bench`):

1. a fresh deploy of tests/sample_app with playbooks/deploy.yml (wall time), then the same
   command again (wall time, `changed=` from the recap: must be 0);
2. the naive set-up of the FastAPI docs in the same host: plain `uvicorn` (no [standard]
   extras, so h11 and asyncio) in its own virtualenv, `uvicorn main:app --workers N` on
   127.0.0.1:8001, behind an nginx server with a default `proxy_pass http://127.0.0.1:8001;`
   (HTTP/1.0 to the upstream, so no keep-alive), TLS on port 8443 with the same certificate;
3. for each worker count N (1, 2, 4: the service role applies it, tests/bench/workers.yml), wrk
   from this controller against the host's address, in turn:
   - ours:   https://<ip>/health, nginx + TLS + the upstream keep-alive over the unix socket;
   - direct: http://<ip>:8000/health, the same Uvicorn command line (read from the running
             service) with `--host 0.0.0.0 --port 8000` instead of `--fd 3`, ours stopped;
   - naive:  https://<ip>:8443/health, ours stopped.
   Around each run the CPU time (utime + stime from /proc/<pid>/stat) of every process of the
   host is summed per systemd unit, and wrk's own CPU time is read from its rusage.

Results: .cache/bench/results.json, results.md and requests_per_second.png (matplotlib from the
project's virtualenv, .venv). With
--update-docs the table and the plot are copied into docs/performance.md and
docs/performance.png. Only the standard library is needed to run this script.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "bench"
sys.path.insert(0, str(ROOT / "tests" / "lib"))

import testhost  # noqa: E402
from loadclient import PinnedHTTPSConnection  # noqa: E402

NAME = "asgi-uvicorn-bench"
HOSTNAME = "bench.asgi.test"
APP = "bench"
PATH = "/health"
DIRECT_PORT = 8000
NAIVE_PORT = 8001
NAIVE_TLS_PORT = 8443
SETUPS = ("ours", "direct", "naive")
LABELS = {
    "ours": "ours: nginx + TLS + keep-alive to the unix socket",
    "direct": "direct: Uvicorn on TCP, no proxy",
    "naive": "naive: plain uvicorn on TCP behind nginx's default proxy_pass",
}
# The versions the app role installs (uvicorn[standard]) and the sample app pins.
UVICORN_VERSION = "0.54.0"
FASTAPI_VERSION = "0.165.0"

# Targets of issue 7 (checked and printed, never asserted: figures depend on the machine).
TARGET_OURS_VS_NAIVE = 2.5
TARGET_EFFICIENCY_1 = 1.0
TARGET_EFFICIENCY_CORES = 0.70
TARGET_P99 = 1.2
TARGET_CONVERGE = 0.30
# Deploy speed, -e workers=4 (issue 21): a code-only redeploy (a new release, rolling reload) and
# a run with nothing to change, in seconds of wall time.
TARGET_CODE_ONLY = 20.0
TARGET_NOTHING = 10.0


def say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> None:
    print(f"bench: ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(cmd: list[str], check: bool = True, capture: bool = True, timeout: float | None = None,
        **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, text=True, capture_output=capture, timeout=timeout, **kw)
    if check and p.returncode != 0:
        out = ((p.stdout or "") + (p.stderr or ""))[-3000:] if capture else ""
        die(f"command failed ({p.returncode}): {shlex.join(cmd)}\n{out}")
    return p


def host_sh(script: str, check: bool = True, timeout: float = 300) -> str:
    """Run a shell script inside the test host, as root."""
    return run(["docker", "exec", NAME, "bash", "-euo", "pipefail", "-c", script],
               check=check, timeout=timeout).stdout


# --- tools on the controller -------------------------------------------------------------------

def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if not shutil.which("apt-get"):
        die("wrk not found and no apt-get: install wrk by hand")
    say("installing wrk (Debian package) with apt-get")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if run(prefix + ["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env).returncode != 0:
        run(prefix + ["apt-get", "update", "-qq"], env=env)
        run(prefix + ["apt-get", "install", "-y", "-qq", "wrk"], env=env)
    return shutil.which("wrk") or die("wrk still not found after apt-get install wrk")


def ensure_plot_venv() -> Path:
    """The project venv, which has matplotlib (tools/setup.sh)."""
    run([str(ROOT / "tools" / "setup.sh")])
    return ROOT / ".venv" / "bin" / "python"


# --- the test host -----------------------------------------------------------------------------

def test_host_image() -> str:
    out = run([str(ROOT / "tools" / "testhost.sh"), "bookworm"], capture=True).stdout
    return out.strip().splitlines()[-1]


def start_container(image: str) -> None:
    say(f"starting test host {NAME} ({image}, systemd as PID 1)")
    try:
        testhost.start(NAME, HOSTNAME, image)
    except RuntimeError as e:
        die(str(e))


def write_inventory(state: Path, extra_args: list[str], ip: str) -> Path:
    inv = state / "inventory.yml"
    hostvars: dict[str, object] = {
        # One `docker exec` per task instead of copying each module first: 30-40 % less wall
        # time for a re-run (docs/performance.md). Recommended for SSH hosts too.
        "ansible_pipelining": True,
        "app_name": APP,
        "app_source": str(ROOT / "tests" / "sample_app"),
        "proxy_server_name": HOSTNAME,
        # wrk sends the URL's host, here the host's address, as the TLS SNI: nginx refuses a
        # handshake for a name the site does not serve.
        "proxy_server_aliases": [ip],
    }
    if extra_args:
        hostvars["service_extra_args"] = extra_args
    testhost.write_inventory(inv, NAME, hostvars)
    return inv


def ansible_env() -> dict:
    env = dict(os.environ)
    venv_bin = ROOT / ".venv" / "bin"
    if venv_bin.is_dir():
        env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".cache" / "collections"))
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    # Per-task times, to show where a converge spends its time.
    env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "12"
    return env


def playbook(inv: Path, play: str, workers: int, log: Path, extra: tuple[str, ...] = (),
             collections: Path | None = None) -> dict:
    """Run a playbook, return its wall time and the recap counters. `collections`: the
    ANSIBLE_COLLECTIONS_PATH that holds the asgi.uvicorn to run (default this checkout's)."""
    cmd = ["ansible-playbook", "-i", str(inv), play, "-e", f"workers={workers}", *extra]
    say(f"running: {shlex.join(cmd)}")
    env = ansible_env()
    if collections:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True)
    seconds = time.monotonic() - t0
    log.write_text(p.stdout + p.stderr)
    if p.returncode != 0:
        die(f"{play} failed after {seconds:.0f} s; log: {log}\n{(p.stdout + p.stderr)[-3000:]}")
    m = re.search(r"^\S+\s*:\s*ok=(\d+)\s+changed=(\d+).*?skipped=(\d+)", p.stdout, re.M)
    if not m:
        die(f"no PLAY RECAP in {log}")
    tasks = re.findall(r"^(.+?) -+ (\d+\.\d+)s$", p.stdout, re.M)
    return {"seconds": round(seconds, 1), "ok": int(m.group(1)), "changed": int(m.group(2)),
            "tasks": int(m.group(1)) + int(m.group(3)),
            "command": shlex.join(cmd), "slowest_tasks": {t.strip(): float(v) for t, v in tasks}}


# --- deploy speed ------------------------------------------------------------------------------

def app_source(state: Path, n: int) -> Path:
    """tests/sample_app with VERSION set to n: each n is a code-only change (same requirements)."""
    src = state / "sources" / str(n)
    if not src.is_dir():
        shutil.copytree(ROOT / "tests" / "sample_app", src)
        (src / "VERSION").write_text(f"{n}\n")
    return src


def collection_path(state: Path, checkout: Path) -> Path:
    """An ANSIBLE_COLLECTIONS_PATH whose asgi.uvicorn is `checkout`."""
    path = state / "compare-collections"
    link = path / "ansible_collections" / "asgi" / "uvicorn"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(checkout.resolve())
    return path


def deploy_speed(inv: Path, workers: int, rounds: int, out_dir: Path, state: Path,
                 compare: Path | None) -> dict:
    """Wall time of a deploy with nothing to change and of a code-only redeploy (a new release
    of the same requirements: the rolling reload), with `workers` workers; with `compare`, that
    checkout's deploy too, interleaved on the same host, so that ratios compare like with like."""
    checkouts = {"this": (ROOT, None)}
    if compare:
        checkouts["compare"] = (compare.resolve(), collection_path(state, compare))
    shutil.rmtree(state / "sources", ignore_errors=True)
    n = int(time.time())  # a new release each run, never one still on the host
    source = app_source(state, n)
    settle = playbook(inv, str(ROOT / "playbooks" / "deploy.yml"), workers, out_dir / "speed-settle.log",
                      ("-e", f"app_source={source}"))
    say(f"deploy speed: settled with -e workers={workers} in {settle['seconds']} s")
    runs: dict[str, dict[str, list[dict]]] = {c: {"nothing": [], "code_only": []} for c in checkouts}
    for rnd in range(rounds):
        # A B, then B A: a machine getting busier or quieter favours neither.
        for name in list(checkouts)[::1 if rnd % 2 == 0 else -1]:
            checkout, collections = checkouts[name]
            play = str(checkout / "playbooks" / "deploy.yml")
            log = out_dir / f"speed-{name}-{rnd}"
            r = playbook(inv, play, workers, log.with_suffix(".nothing.log"), ("-e", f"app_source={source}"), collections)
            runs[name]["nothing"].append(r)
            n += 1
            source = app_source(state, n)
            c = playbook(inv, play, workers, log.with_suffix(".code.log"), ("-e", f"app_source={source}"), collections)
            runs[name]["code_only"].append(c)
            say(f"deploy speed, {name} checkout, round {rnd + 1}/{rounds}: nothing to change {r['seconds']} s "
                f"(changed={r['changed']}), code-only redeploy {c['seconds']} s (changed={c['changed']})")
    return {"workers": workers, "rounds": rounds, "compare": str(compare) if compare else None,
            "runs": runs,
            "best": {name: {kind: min(runs[name][kind], key=lambda r: r["seconds"]) for kind in runs[name]}
                     for name in runs}}


# --- the naive set-up and the direct server ----------------------------------------------------

NAIVE_SITE = f"""\
# The naive set-up of tests/bench/bench.py: nginx's default proxy_pass (HTTP/1.0, a new upstream
# connection per request) to plain uvicorn on TCP. TLS with the same certificate as ours.
server {{
    listen {NAIVE_TLS_PORT} ssl;
    server_name {HOSTNAME};
    ssl_certificate /etc/nginx/tls/{APP}/fullchain.pem;
    ssl_certificate_key /etc/nginx/tls/{APP}/privkey.pem;

    location / {{
        proxy_pass http://127.0.0.1:{NAIVE_PORT};
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }}
}}
"""


def setup_naive() -> float:
    """Plain uvicorn in /opt/naive-venv and the naive nginx server (skipped when present)."""
    t0 = time.monotonic()
    host_sh(f"""
if [ ! -x /opt/naive-venv/bin/uvicorn ]; then
  python3 -m venv /opt/naive-venv
  /opt/naive-venv/bin/pip install -q --disable-pip-version-check uvicorn=={UVICORN_VERSION} fastapi=={FASTAPI_VERSION}
fi
# Plain uvicorn: neither httptools nor uvloop may be importable there.
for m in httptools uvloop; do
  if /opt/naive-venv/bin/python -c "import $m" 2>/dev/null; then echo "$m in /opt/naive-venv" >&2; exit 1; fi
done
cat >/etc/nginx/sites-available/bench-naive.conf.new <<'EOF'
{NAIVE_SITE}EOF
if ! cmp -s /etc/nginx/sites-available/bench-naive.conf.new /etc/nginx/sites-available/bench-naive.conf; then
  mv /etc/nginx/sites-available/bench-naive.conf.new /etc/nginx/sites-available/bench-naive.conf
  ln -sf ../sites-available/bench-naive.conf /etc/nginx/sites-enabled/bench-naive.conf
  nginx -t -q
  systemctl reload nginx
fi
rm -f /etc/nginx/sites-available/bench-naive.conf.new
""", timeout=600)
    return time.monotonic() - t0


def our_command() -> list[str]:
    """The running service's command line (its MainPID), for the direct server."""
    out = host_sh(f"pid=$(systemctl show -p MainPID --value {APP}.service); "
                  f"[ \"$pid\" -gt 0 ] && tr '\\0' '\\n' </proc/$pid/cmdline")
    return [a for a in out.split("\n") if a != ""]


def direct_command(ours: list[str]) -> list[str]:
    cmd = list(ours)
    i = cmd.index("--fd")
    cmd[i:i + 2] = ["--host", "0.0.0.0", "--port", str(DIRECT_PORT)]
    return cmd


def start_transient(unit: str, cmd: list[str], workdir: str) -> None:
    host_sh(f"systemctl stop {unit} 2>/dev/null || true; systemctl reset-failed {unit} 2>/dev/null || true; "
            f"systemd-run --quiet --unit {unit} --uid {APP} --gid {APP} "
            f"-p WorkingDirectory={workdir} -p EnvironmentFile=-/etc/{APP}/env -- {shlex.join(cmd)}")


def stop_unit(unit: str) -> None:
    host_sh(f"systemctl stop {unit} 2>/dev/null || true; systemctl reset-failed {unit} 2>/dev/null || true")


def wait_http(url: str, host: str | None = None, timeout: float = 60) -> None:
    """Until `url` answers 200; with `host`, that name is the TLS SNI and Host (nginx refuses
    a handshake without a name it serves)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if host and parts.scheme == "https":
                conn = PinnedHTTPSConnection(host, parts.hostname, parts.port or 443, ctx, timeout=2)
                conn.request("GET", parts.path or "/", headers={"Host": host})
                status = conn.getresponse().status
                conn.close()
            else:
                with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                    status = r.status
            if status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            die(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.2)


# --- load and CPU ------------------------------------------------------------------------------

CPU_SNAPSHOT = r"""
import json, os
ticks = {}
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    try:
        with open(f'/proc/{pid}/stat') as f:
            stat = f.read()
        with open(f'/proc/{pid}/cgroup') as f:
            cg = f.read()
    except OSError:
        continue
    unit = 'other'
    for line in cg.splitlines():
        if line.startswith(('0::', '1:name=systemd:')) or ':name=systemd:' in line:
            unit = line.rsplit('/', 1)[-1] or 'other'
            break
    fields = stat.rsplit(')', 1)[1].split()
    ticks[unit] = ticks.get(unit, 0) + int(fields[11]) + int(fields[12])
print(json.dumps({'hz': os.sysconf('SC_CLK_TCK'), 'ticks': ticks}))
"""


def cpu_snapshot() -> dict:
    out = run(["docker", "exec", NAME, "python3", "-c", CPU_SNAPSHOT]).stdout
    snap = json.loads(out)
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    snap["host_busy_ticks"] = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    return snap


def cpu_delta(before: dict, after: dict) -> dict:
    hz = after["hz"]
    units = set(before["ticks"]) | set(after["ticks"])
    per_unit = {u: (after["ticks"].get(u, 0) - before["ticks"].get(u, 0)) / hz for u in units}
    host_hz = os.sysconf("SC_CLK_TCK")
    return {"units": per_unit, "host_busy": (after["host_busy_ticks"] - before["host_busy_ticks"]) / host_hz}


def wrk(wrk_bin: str, url: str, seconds: float, connections: int, threads: int,
        host: str | None) -> dict:
    cmd = [wrk_bin, f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "5s",
           "-s", str(HERE / "report.lua")]
    if host:
        cmd += ["-H", f"Host: {host}"]
    cmd.append(url)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        die(f"wrk did not finish: {shlex.join(cmd)}")
    # communicate() has reaped the child: its CPU time is in RUSAGE_CHILDREN; take the difference.
    if proc.returncode != 0:
        die(f"wrk failed ({proc.returncode}): {shlex.join(cmd)}\n{stdout}{stderr}")
    line = [x for x in stdout.splitlines() if x.startswith("{")]
    if not line:
        die(f"no summary from wrk: {shlex.join(cmd)}\n{stdout}{stderr}")
    res = json.loads(line[-1])
    res["command"] = shlex.join(cmd)
    return res


def children_cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(setup: str, workers: int, url: str, host: str | None, unit: str, args) -> dict:
    # Warm-up: connections, TLS sessions, imports and caches of every worker.
    wrk(args.wrk, url, args.warmup, args.connections, args.threads, host)
    before = cpu_snapshot()
    c0 = children_cpu()
    res = wrk(args.wrk, url, args.duration, args.connections, args.threads, host)
    client = children_cpu() - c0
    after = cpu_snapshot()
    d = cpu_delta(before, after)
    n = max(res["requests"], 1)
    secs = res["duration_us"] / 1e6
    uvicorn_cpu = d["units"].get(unit, 0.0)
    nginx_cpu = d["units"].get("nginx.service", 0.0)
    # Uvicorn's log lines (the access log unless --no-access-log) go through journald.
    journald_cpu = d["units"].get("systemd-journald.service", 0.0)
    accounted = uvicorn_cpu + nginx_cpu + journald_cpu + client
    errors = sum(res["errors"].values())
    out = {
        "setup": setup,
        "workers": workers,
        "url": url,
        "requests": res["requests"],
        "seconds": round(secs, 2),
        "rps": round(res["requests"] / secs, 1),
        "p50_ms": round(res["latency_us"]["p50"] / 1000, 2),
        "p90_ms": round(res["latency_us"]["p90"] / 1000, 2),
        "p99_ms": round(res["latency_us"]["p99"] / 1000, 2),
        "errors": errors,
        "error_kinds": res["errors"],
        "cpu_us_per_request": {
            "uvicorn": round(uvicorn_cpu / n * 1e6, 1),
            "nginx": round(nginx_cpu / n * 1e6, 1),
            "journald": round(journald_cpu / n * 1e6, 1),
            "client": round(client / n * 1e6, 1),
        },
        # Cores kept busy during the run: by the processes above, and by everything else on the
        # machine (other containers, the kernel's share not charged to a process).
        "cores_busy": {
            "uvicorn": round(uvicorn_cpu / secs, 2),
            "nginx": round(nginx_cpu / secs, 2),
            "journald": round(journald_cpu / secs, 2),
            "client": round(client / secs, 2),
            "other": round(max(d["host_busy"] - accounted, 0.0) / secs, 2),
        },
        "cpu_seconds_by_unit": {u: round(v, 2) for u, v in sorted(d["units"].items()) if v > 0},
        "wrk": res["command"],
    }
    say(f"  {setup:6} workers={workers}: {out['rps']:8.0f} req/s  p50 {out['p50_ms']:6.2f} ms  "
        f"p99 {out['p99_ms']:6.2f} ms  errors {errors}  CPU us/req uvicorn "
        f"{out['cpu_us_per_request']['uvicorn']} nginx {out['cpu_us_per_request']['nginx']} "
        f"journald {out['cpu_us_per_request']['journald']} "
        f"client {out['cpu_us_per_request']['client']}  other cores {out['cores_busy']['other']}")
    return out


# --- report ------------------------------------------------------------------------------------

def best(runs: list[dict], setup: str, workers: int) -> dict | None:
    """Best of the rounds: other load on the machine only ever lowers req/s and raises latency.

    The run with the most req/s (its CPU figures too), with the lowest p50 and p99 of the rounds.
    """
    mine = [r for r in runs if r["setup"] == setup and r["workers"] == workers]
    if not mine:
        return None
    top = dict(max(mine, key=lambda r: r["rps"]))
    for k in ("p50_ms", "p90_ms", "p99_ms"):
        top[k] = min(r[k] for r in mine)
    top["rounds"] = {k: [r[k] for r in mine] for k in ("rps", "p50_ms", "p99_ms", "errors")}
    top["errors"] = sum(r["errors"] for r in mine)
    return top


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def summarize(results: dict) -> dict:
    runs = results["runs"]
    workers = results["config"]["workers"]
    cores = results["machine"]["cores"]
    table = {s: {w: best(runs, s, w) for w in workers} for s in results["config"]["setups"]}
    rps = {s: {w: (table[s][w] or {}).get("rps") for w in workers} for s in table}
    p99 = {s: {w: (table[s][w] or {}).get("p99_ms") for w in workers} for s in table}
    ratios = {
        "proxy_efficiency": {w: ratio(rps["ours"].get(w), rps.get("direct", {}).get(w)) for w in workers},
        "ours_vs_naive": {w: ratio(rps["ours"].get(w), rps.get("naive", {}).get(w)) for w in workers},
        "p99_ours_vs_direct": {w: ratio(p99["ours"].get(w), p99.get("direct", {}).get(w)) for w in workers},
        "worker_scaling": {s: ratio(rps[s].get(2), rps[s].get(1)) for s in rps},
        "worker_scaling_4_vs_2": {s: ratio(rps[s].get(4), rps[s].get(2)) for s in rps},
    }
    conv = results.get("converge", {})
    if conv.get("fresh") and conv.get("idempotent"):
        ratios["idempotent_vs_fresh_converge"] = ratio(conv["idempotent"]["seconds"], conv["fresh"]["seconds"])
    targets = []

    def target(name, value, op, limit, note=""):
        if value is None:
            return
        ok = value >= limit if op == ">=" else value <= limit
        targets.append({"target": name, "value": value, "limit": f"{op} {limit}", "met": ok, "note": note})

    for w in workers:
        target(f"ours / naive, {w} worker(s)", ratios["ours_vs_naive"][w], ">=", TARGET_OURS_VS_NAIVE)
    if 1 in workers:
        target("ours / direct, 1 worker", ratios["proxy_efficiency"][1], ">=", TARGET_EFFICIENCY_1)
    if cores in workers:
        target(f"ours / direct, {cores} workers (= cores)", ratios["proxy_efficiency"][cores], ">=",
               TARGET_EFFICIENCY_CORES, "nginx's own CPU bounds it (docs/performance.md)")
    for w in workers:
        target(f"p99 ours / direct, {w} worker(s)", ratios["p99_ours_vs_direct"][w], "<=", TARGET_P99)
    if conv.get("idempotent"):
        target("idempotent re-run changed=", conv["idempotent"]["changed"], "<=", 0)
        target("idempotent / fresh converge time", ratios.get("idempotent_vs_fresh_converge"), "<=",
               TARGET_CONVERGE)
    speed = results.get("deploy_speed")
    if speed:
        best_speed = speed["best"]["this"]
        target(f"code-only redeploy, -e workers={speed['workers']}, s", best_speed["code_only"]["seconds"], "<=",
               TARGET_CODE_ONLY)
        target(f"nothing to change, -e workers={speed['workers']}, s", best_speed["nothing"]["seconds"], "<=",
               TARGET_NOTHING)
        target("nothing to change, changed=", max(r["changed"] for r in speed["runs"]["this"]["nothing"]), "<=", 0)
        if "compare" in speed["best"]:
            other = speed["best"]["compare"]
            ratios["deploy_speed_vs_compare"] = {
                kind: ratio(best_speed[kind]["seconds"], other[kind]["seconds"]) for kind in best_speed}
    return {"table": table, "ratios": ratios, "targets": targets}


def fmt(v, spec="{:.2f}") -> str:
    return "–" if v is None else spec.format(v)


def markdown(results: dict, summary: dict) -> str:
    cfg, m = results["config"], results["machine"]
    out = [
        f"Run of {results['started']} on {m['cores']} cores ({m['cpu']}), "
        f"{'smoke run, ' if cfg['smoke'] else ''}wrk `-t{cfg['threads']} -c{cfg['connections']} "
        f"-d{cfg['duration']}s` from the controller to `GET {PATH}`, best of {cfg['rounds']} "
        f"round(s) (highest req/s, lowest p50/p99; errors summed); Uvicorn flags: "
        f"`{re.sub(r'--workers [0-9]+', '--workers N', cfg['uvicorn_flags'])}`.",
        "",
        "| Setup | Workers | req/s | p50 ms | p99 ms | Errors | CPU µs/req uvicorn | nginx | journald "
        "| client | Cores busy uvicorn / nginx / client / other |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in cfg["setups"]:
        for w in cfg["workers"]:
            r = summary["table"][s][w]
            if not r:
                continue
            c, b = r["cpu_us_per_request"], r["cores_busy"]
            out.append(
                f"| {s} | {w} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} "
                f"| {c['uvicorn']:.0f} | {c['nginx']:.0f} | {c['journald']:.0f} | {c['client']:.0f} "
                f"| {b['uvicorn']:.2f} / {b['nginx']:.2f} / {b['client']:.2f} / {b['other']:.2f} |")
    ra = summary["ratios"]
    out += ["", "| Ratio | " + " | ".join(f"{w} worker(s)" for w in cfg["workers"]) + " |",
            "|---|" + "---:|" * len(cfg["workers"])]
    for key, label in (("proxy_efficiency", "proxy efficiency: ours / direct"),
                       ("ours_vs_naive", "ours / naive"),
                       ("p99_ours_vs_direct", "p99 ours / p99 direct")):
        out.append(f"| {label} | " + " | ".join(fmt(ra[key][w]) for w in cfg["workers"]) + " |")
    out += ["", "| Worker scaling | " + " | ".join(ra["worker_scaling"]) + " |",
            "|---|" + "---:|" * len(ra["worker_scaling"]),
            "| 2 workers / 1 worker | " + " | ".join(fmt(v) for v in ra["worker_scaling"].values()) + " |",
            "| 4 workers / 2 workers | " + " | ".join(fmt(v) for v in ra["worker_scaling_4_vs_2"].values()) + " |"]
    conv = results.get("converge", {})
    if conv:
        out += ["", "| Converge | wall time s | changed |", "|---|---:|---:|"]
        for k in ("fresh", "idempotent"):
            if conv.get(k):
                out.append(f"| {k} deploy (`{conv[k]['command'].split(' -i ')[0]} … -e workers="
                           f"{conv[k]['workers']}`) | {conv[k]['seconds']:.1f} | {conv[k]['changed']} |")
        if "idempotent_vs_fresh_converge" in ra:
            out.append(f"| idempotent / fresh | {ra['idempotent_vs_fresh_converge']:.2f} | |")
    speed = results.get("deploy_speed")
    if speed:
        other = speed["best"].get("compare")
        out += ["", f"| Deploy speed, `-e workers={speed['workers']}`, best of {speed['rounds']} | wall time s | changed "
                "| tasks " + (f"| `{speed['compare']}`: wall time s | tasks | this / that |" if other else "|"),
                "|---|---:|---:|---:|" + ("---:|---:|---:|" if other else "")]
        for kind, label in (("code_only", "code-only redeploy (new release, rolling reload)"),
                            ("nothing", "nothing to change")):
            r = speed["best"]["this"][kind]
            row = f"| {label} | {r['seconds']:.1f} | {r['changed']} | {r.get('tasks', '–')} |"
            if other:
                row += (f" {other[kind]['seconds']:.1f} | {other[kind].get('tasks', '–')} "
                        f"| {fmt(ra['deploy_speed_vs_compare'][kind])} |")
            out.append(row)
    if summary["targets"]:
        out += ["", "| Target | Value | Wanted | Met |", "|---|---:|---|---|"]
        for t in summary["targets"]:
            out.append(f"| {t['target']} | {t['value']} | {t['limit']} | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(out) + "\n"


PLOT = r"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
results, png = json.load(open(sys.argv[1])), sys.argv[2]
cfg, table = results["config"], results["summary"]["table"]
colors = {"ours": "#2a7ab9", "direct": "#7f7f7f", "naive": "#d9822b"}
fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=110)
width = 0.8 / len(cfg["setups"])
workers = cfg["workers"]
for i, s in enumerate(cfg["setups"]):
    ys = [(table[s].get(str(w)) or {}).get("rps", 0) for w in workers]
    xs = [j + (i - (len(cfg["setups"]) - 1) / 2) * width for j in range(len(workers))]
    bars = ax.bar(xs, ys, width, label=results["labels"][s], color=colors.get(s))
    ax.bar_label(bars, fmt="%.0f", fontsize=8, padding=2)
ax.set_xticks(range(len(workers)), [f"{w} worker{'s' if w > 1 else ''}" for w in workers])
ax.set_ylabel("requests / s (wrk, keep-alive)")
ax.set_title(f"GET /health on {results['machine']['cores']} cores: req/s by Uvicorn workers", fontsize=10)
ax.margins(y=0.12)
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=1, frameon=False)
ax.grid(axis="y", alpha=0.3)
fig.tight_layout()
fig.savefig(png)
"""


def update_docs(md: str, png: Path) -> None:
    doc = ROOT / "docs" / "performance.md"
    shutil.copyfile(png, ROOT / "docs" / "performance.png")
    text = doc.read_text()
    begin, end = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
    if begin not in text or end not in text:
        die(f"{doc} lacks the markers {begin} … {end}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{begin}\n{md}{end}{tail}")
    say("updated docs/performance.md and docs/performance.png")


def render(json_path: Path, docs: bool) -> None:
    results = json.loads(json_path.read_text())
    summary = summarize(results)
    md = markdown(results, summary)
    results["summary"] = summary
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path, png_path = json_path.with_name("results.md"), json_path.with_name("requests_per_second.png")
    md_path.write_text(md)
    run([str(ensure_plot_venv()), "-c", PLOT, str(json_path), str(png_path)])
    print(md)
    if docs:
        update_docs(md, png_path)


# --- main --------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true",
                    help="a few seconds per setup with 1 worker, reusing the bench host when present; "
                         "fails unless every setup answered with 0 errors and the files were written")
    ap.add_argument("--workers", default=None, help="worker counts, comma-separated (default 1,2,4; smoke 1)")
    ap.add_argument("--setups", default=None, help="comma-separated of ours,direct,naive (default all; smoke ours,direct)")
    ap.add_argument("--duration", type=int, default=None, help="seconds of each measured wrk run (default 8; smoke 2)")
    ap.add_argument("--warmup", type=int, default=None, help="seconds of wrk before each measured run (default 2; smoke 1)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds over all setups and worker counts; best kept (default 2; smoke 1)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reuse", action="store_true", help="reuse the running bench host (no fresh-deploy timing)")
    ap.add_argument("--deploy-workers", type=int, default=4,
                    help="workers of the deploy-speed runs: nothing to change, code-only redeploy (default 4)")
    ap.add_argument("--deploy-rounds", type=int, default=None,
                    help="rounds of the deploy-speed runs, the fastest kept (default 2; smoke 0: none)")
    ap.add_argument("--compare", metavar="CHECKOUT", type=Path, default=None,
                    help="another checkout of this collection (e.g. `git worktree add /tmp/main main`): its "
                         "deploy-speed runs interleaved with this one's, and the ratios")
    ap.add_argument("--no-load", action="store_true", help="deploy timings only, no load runs")
    ap.add_argument("--service-extra-args", default="[]", metavar="JSON",
                    help='extra Uvicorn options of the deployed service (service_extra_args), e.g. \'["--no-access-log"]\'')
    ap.add_argument("--out", default=None, help="output directory (default .cache/bench, smoke .cache/bench-smoke)")
    ap.add_argument("--update-docs", action="store_true", help="copy the table and plot into docs/")
    ap.add_argument("--render", metavar="RESULTS_JSON",
                    help="no measurement: rewrite results.md and the plot beside RESULTS_JSON from it")
    args = ap.parse_args()
    if args.render:
        render(Path(args.render), args.update_docs)
        return
    smoke = args.smoke
    args.workers = [int(w) for w in (args.workers or ("1" if smoke else "1,2,4")).split(",")]
    args.setups = [s for s in (args.setups or ("ours,direct" if smoke else "ours,direct,naive")).split(",")]
    if set(args.setups) - set(SETUPS) or "ours" not in args.setups:
        die(f"--setups: a list of {','.join(SETUPS)} with ours in it")
    args.duration = args.duration or (2 if smoke else 8)
    args.warmup = args.warmup or (1 if smoke else 2)
    args.rounds = args.rounds or (1 if smoke else 2)
    args.deploy_rounds = args.deploy_rounds if args.deploy_rounds is not None else (0 if smoke else 2)
    if args.no_load:
        args.workers, args.setups = [], ["ours"]
    out_dir = ROOT / (args.out or (".cache/bench-smoke" if smoke else ".cache/bench"))
    out_dir.mkdir(parents=True, exist_ok=True)
    state = ROOT / ".cache" / "bench"
    state.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    args.wrk = ensure_wrk()
    plot_python = ensure_plot_venv()
    image = test_host_image()
    extra_args: list[str] = json.loads(args.service_extra_args)
    deploy_play = str(ROOT / "playbooks" / "deploy.yml")
    workers_play = str(HERE / "workers.yml")

    converge = {}
    stamp = state / "applied-inventory.sha256"
    reuse = (args.reuse or smoke) and testhost.running_on(NAME, image)
    reusing = reuse and host_sh(f"systemctl is-active {APP}.service nginx.service",
                                check=False).split() == ["active", "active"]
    if not reusing:
        start_container(image)
    ip = testhost.ip(NAME)
    inv = write_inventory(state, extra_args, ip)
    inv_hash = hashlib.sha256(inv.read_bytes()).hexdigest()
    if reusing:
        say(f"reusing the running test host {NAME}")
    else:
        w0 = args.workers[0] if args.workers else args.deploy_workers
        converge["fresh"] = playbook(inv, deploy_play, w0, out_dir / "deploy-fresh.log") | {"workers": w0}
        say(f"fresh deploy: {converge['fresh']['seconds']} s, changed={converge['fresh']['changed']}")
        if not smoke:
            converge["idempotent"] = playbook(inv, deploy_play, w0, out_dir / "deploy-idempotent.log") | {"workers": w0}
            say(f"idempotent re-run: {converge['idempotent']['seconds']} s, changed={converge['idempotent']['changed']}")
        stamp.write_text(inv_hash + "\n")
    # A reused host whose service settings (the inventory) changed since they were applied.
    stale = reuse and (not stamp.is_file() or stamp.read_text().strip() != inv_hash)

    speed = None
    if args.deploy_rounds > 0:
        speed = deploy_speed(inv, args.deploy_workers, args.deploy_rounds, out_dir, state, args.compare)

    naive_setup_s = setup_naive() if "naive" in args.setups else None
    urls = {
        "ours": (f"https://{ip}{PATH}", HOSTNAME, f"{APP}.service"),
        "direct": (f"http://{ip}:{DIRECT_PORT}{PATH}", None, f"{APP}-direct.service"),
        "naive": (f"https://{ip}:{NAIVE_TLS_PORT}{PATH}", HOSTNAME, f"{APP}-naive.service"),
    }
    runs: list[dict] = []
    uvicorn_flags = ""
    # Rounds inside each worker count: the worker count changes only len(workers) - 1 times.
    for w in args.workers:
        running = our_command()
        if running[running.index("--workers") + 1] != str(w) or (stale and w == args.workers[0]):
            playbook(inv, workers_play, w, out_dir / f"workers-{w}.log")
            stamp.write_text(inv_hash + "\n")
        for rnd in range(args.rounds):
            say(f"{w} worker(s), round {rnd + 1}/{args.rounds}")
            url, host, unit = urls["ours"]
            wait_http(url, host)
            ours_cmd = our_command()
            uvicorn_flags = shlex.join(ours_cmd[ours_cmd.index("uvicorn"):])
            runs.append(measure("ours", w, url, host, unit, args))
            others = [s for s in args.setups if s != "ours"]
            if not others:
                continue
            host_sh(f"systemctl stop {APP}.service")
            try:
                for s in others:
                    url, host, unit = urls[s]
                    if s == "direct":
                        start_transient(unit, direct_command(ours_cmd), f"/srv/{APP}/shared")
                    else:
                        start_transient(unit, ["/opt/naive-venv/bin/uvicorn", "main:app", "--workers", str(w),
                                               "--host", "127.0.0.1", "--port", str(NAIVE_PORT)],
                                        f"/srv/{APP}/current/app")
                    try:
                        wait_http(url, host)
                        runs.append(measure(s, w, url, host, unit, args))
                    finally:
                        stop_unit(unit)
            finally:
                host_sh(f"systemctl start {APP}.service")

    cpu = "unknown"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    results = {
        "started": started,
        "machine": {"cores": os.cpu_count(), "cpu": cpu},
        "config": {"smoke": smoke, "workers": args.workers, "setups": args.setups,
                   "duration": args.duration, "warmup": args.warmup, "rounds": args.rounds,
                   "connections": args.connections, "threads": args.threads, "path": PATH,
                   "uvicorn_flags": uvicorn_flags, "service_extra_args": extra_args},
        "labels": LABELS,
        "converge": converge,
        "deploy_speed": speed,
        "naive_setup_seconds": round(naive_setup_s, 1) if naive_setup_s is not None else None,
        "runs": runs,
    }
    summary = summarize(results)
    md = markdown(results, summary)
    results["summary"] = summary
    results["wall_seconds"] = round(time.monotonic() - t_start, 1)
    json_path, md_path, png_path = out_dir / "results.json", out_dir / "results.md", out_dir / "requests_per_second.png"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(md)
    run([str(plot_python), "-c", PLOT, str(json_path), str(png_path)])
    print(md)
    ra = summary["ratios"]
    print("Ratios:")
    for w in args.workers:
        print(f"  {w} worker(s): proxy efficiency (ours / direct) {fmt(ra['proxy_efficiency'][w])}, "
              f"ours / naive {fmt(ra['ours_vs_naive'][w])}, p99 ours / direct {fmt(ra['p99_ours_vs_direct'][w])}")
    for s, v in ra["worker_scaling"].items():
        print(f"  worker scaling, {s}: 2 workers / 1 worker {fmt(v)}, "
              f"4 workers / 2 workers {fmt(ra['worker_scaling_4_vs_2'][s])}")
    if "idempotent_vs_fresh_converge" in ra:
        print(f"  idempotent / fresh converge time: {fmt(ra['idempotent_vs_fresh_converge'])}")
    if speed:
        for kind, label in (("code_only", "code-only redeploy"), ("nothing", "nothing to change")):
            line = f"  {label}, -e workers={speed['workers']}: {speed['best']['this'][kind]['seconds']:.1f} s"
            if "deploy_speed_vs_compare" in ra:
                line += (f" (compare: {speed['best']['compare'][kind]['seconds']:.1f} s, this / compare "
                         f"{fmt(ra['deploy_speed_vs_compare'][kind])})")
            print(line)
    print(f"Files: {json_path.relative_to(ROOT)}, {md_path.relative_to(ROOT)}, {png_path.relative_to(ROOT)}; "
          f"wall time {results['wall_seconds']:.0f} s")
    if args.update_docs:
        update_docs(md, png_path)

    if smoke:
        bad = [f"{r['setup']} workers={r['workers']}: {r['requests']} requests, errors {r['error_kinds']}"
               for r in runs if r["errors"] or r["requests"] == 0]
        missing = {s for s in args.setups} - {r["setup"] for r in runs}
        for p in (json_path, md_path, png_path):
            if not p.is_file() or p.stat().st_size == 0:
                bad.append(f"{p} not written")
        if bad or missing:
            die("smoke: " + "; ".join(bad + [f"no run of {s}" for s in sorted(missing)]))
        print(f"bench-smoke: {len(runs)} passed, 0 failed")


if __name__ == "__main__":
    main()
