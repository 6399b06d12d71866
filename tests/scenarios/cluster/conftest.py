"""The cluster scenario's fixtures: a load balancer and two app hosts (molecule/cluster/molecule.yml),
driven with `docker exec` and playbooks/cluster.yml; the shared helpers come from tests/lib/scenario.py.

No check here takes testinfra's `host` fixture, which would run it once per host of the inventory.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)
from scenario import LOADCLIENT, ansible_env, curl, figures_table, load_table, load_through_nginx, run_deploy, wait_for  # noqa: E402

import testhost  # noqa: E402

LB = "asgi-uvicorn-cluster-lb"
APPS = ["asgi-uvicorn-cluster-app1", "asgi-uvicorn-cluster-app2"]
# The fixed addresses of molecule/cluster/molecule.yml; Uvicorn listens on port 8000 of each app host.
ADDRESS = {LB: "172.30.57.10", APPS[0]: "172.30.57.11", APPS[1]: "172.30.57.12"}
UPSTREAM = {app: f"{ADDRESS[app]}:8000" for app in APPS}
APP = "sample"
SITE_FILE = f"/etc/nginx/sites-available/{APP}.conf"


def on(name: str, *cmd: str, check: bool = True) -> str:
    return testhost.host_exec(name, *cmd, check=check)


def run_cluster(extra: dict, playbook: str = "cluster.yml") -> tuple[subprocess.CompletedProcess, float]:
    """playbooks/cluster.yml (or another playbook of the collection) with -e JSON; the process and its seconds."""
    start = time.monotonic()
    proc = run_deploy(extra, playbook=playbook)
    return proc, time.monotonic() - start


def pool() -> dict[str, dict]:
    """The app hosts in the load balancer's HAProxy, by host:port: {"state": up|down|drain|maint,
    "check_up", "sessions"} (asgi-uvicorn-pool, the balancer role's script)."""
    return json.loads(on(LB, "/usr/local/sbin/asgi-uvicorn-pool", APP))


def drained() -> set[str]:
    """The app hosts the load balancer drains (takes out for a restart)."""
    return {server for server, status in pool().items() if status["state"] == "drain"}


def current_release(app: str) -> str:
    return on(app, "readlink", f"/srv/{APP}/current").strip()


def direct(app: str, path: str = "/health") -> dict:
    """GET http://<app host>:8000<path> from the load balancer (the app port's firewall lets only
    it in), past its nginx and HAProxy."""
    return json.loads(on(LB, "python3", "-c", "import sys, urllib.request; print(urllib.request.urlopen("
                         "sys.argv[1], timeout=5).read().decode())", f"http://{UPSTREAM[app]}{path}"))


# Connects to host:port, sends GET /health; prints the status line's code, or how the connection failed.
REACH = """import socket, sys, time
start = time.monotonic()
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as s:
        s.sendall(b"GET /health HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
        answer = s.recv(64).split(b" ")[1].decode()
except ConnectionRefusedError:
    answer = "refused"
except (TimeoutError, socket.timeout):
    answer = "timeout"
print(answer, round((time.monotonic() - start) * 1000, 1))
"""


def reach(source: str, app: str) -> tuple[str, float]:
    """From a host of the cluster (or "controller": through the Docker bridge), connect to an app
    host's Uvicorn port: ("200", ms) when served, ("refused", ms) or ("timeout", ms) when not."""
    args = [REACH, ADDRESS[app], "8000"]
    out = (subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, timeout=30).stdout
           if source == "controller" else on(source, "python3", "-c", *args))
    answer, ms = out.split()
    return answer, float(ms)


def run_cluster_with_apps(apps: list[str], extra: dict) -> tuple[subprocess.CompletedProcess, float]:
    """playbooks/cluster.yml with only `apps` in the app hosts' group: a group of an extra inventory
    source (cluster_app_group), as if the others were gone from the inventory."""
    with tempfile.TemporaryDirectory() as directory:
        groups = Path(directory) / "groups.yml"
        groups.write_text(json.dumps({"scaled": {"hosts": {app: None for app in apps}}}))
        start = time.monotonic()
        proc = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-i", str(groups),
                               "asgi.uvicorn.cluster", "-e", json.dumps({**extra, "cluster_app_group": "scaled"})],
                              capture_output=True, text=True, timeout=600, env=ansible_env())
        return proc, time.monotonic() - start


class Watch:
    """Polls, while a deploy runs, which app hosts the load balancer drains and each app host's
    MainPID, so a check can say which host was out of the pool while it restarted."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, set[str], dict[str, int]]] = []
        # The servers HAProxy had at each sample (the pool's members), by the samples' index.
        self.members: list[set[str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = {app: testhost.main_pid(app, APP) for app in APPS}
            servers = pool()
            self.samples.append((time.monotonic(), {s for s, status in servers.items() if status["state"] == "drain"},
                                 pids))
            self.members.append(set(servers))
            self._stop.wait(0.3)

    def __enter__(self) -> "Watch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture(scope="session")
def cluster_cacert(tmp_path_factory) -> Path:
    """The load balancer's self-signed certificate, trusted as its own CA."""
    return testhost.fetch_cert(LB, APP, tmp_path_factory.mktemp("tls") / f"{APP}.pem")


@pytest.fixture(scope="session")
def via_lb(cluster_cacert):
    """curl through the load balancer with a verified handshake: via_lb(path, headers) -> Answer."""
    def get(path: str, headers: dict[str, str] | None = None):
        return curl(ADDRESS[LB], LB, path, cluster_cacert, headers=headers)
    return get


@pytest.fixture
def load(cluster_cacert):
    """``with load() as report:`` keeps GET /host going through the load balancer. Like a browser,
    the client sends a GET again on a new connection when a kept-alive one closed without an
    answer (RFC 9112, 9.3.1): each reload of the load balancer's nginx closes its idle client
    connections, one of which may just carry a request. The report counts those apart.
    100 requests/s rather than the other scenarios' 150: three hosts share the 2 cores here, and
    the load runs through every deploy, builds included."""
    return functools.partial(load_through_nginx, LB, ADDRESS[LB], cluster_cacert, rate=100, path="/host",
                             retry_reused=True)


@pytest.fixture(scope="session")
def figures():
    """Rows of the figures table; printed (and written to .cache/cluster/) at the end."""
    with figures_table("cluster", "A load balancer and two app hosts under load (molecule test -s cluster)",
                       functools.partial(load_table, resent=True)) as rows:
        yield rows



@contextlib.contextmanager
def plain_load(port: int, rate: float, margin: int = 100):
    """``with plain_load(port, rate) as report:`` keeps GET /host going over plain HTTP to the load
    balancer's address at `port` (loadclient.py --record) while the block runs, like
    load_through_nginx for the HTTPS site; the yielded dict holds the report after it."""
    report: dict = {}
    with tempfile.TemporaryDirectory() as directory:
        progress = Path(directory) / "answers"
        proc = subprocess.Popen(
            [sys.executable, str(LOADCLIENT), "--url", f"http://{LB}:{port}/host", "--connect-to", ADDRESS[LB],
             "--rate", str(rate), "--concurrency", "8", "--duration", "300", "--timeout", "15", "--record",
             "--retry-reused", "--progress", str(progress)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def answers() -> int:
            assert proc.poll() is None, f"the load client ended early: {proc.communicate()}"
            try:
                return int(progress.read_text() or 0)
            except (FileNotFoundError, ValueError):
                return 0
        try:
            wait_for(lambda: answers() >= margin, f"{margin} answers on port {port}", interval=0.1)
            yield report
            after = answers() + margin
            wait_for(lambda: answers() >= after, f"{margin} more answers on port {port}", interval=0.1)
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            report.update(json.loads(out))
