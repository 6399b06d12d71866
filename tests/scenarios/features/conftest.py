"""The features scenario's fixtures and helpers; the shared ones come from tests/lib/scenario.py."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)
from scenario import LOADCLIENT, PROJECT  # noqa: E402

import testhost  # noqa: E402

FIGURES_DIR = PROJECT / ".cache" / "features"
UNIT = "sample"

# One request made on the test host itself (from loopback or from its own bridge address), so
# nginx sees a client other than the controller. Prints {"status", "headers", "body"}.
HOST_REQUEST = r'''
import http.client, json, socket, ssl, sys
address, port, tls, path, host = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "https", sys.argv[4], sys.argv[5]
sock = socket.create_connection((address, port), 10)
if tls:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = context.wrap_socket(sock, server_hostname=host)
conn = http.client.HTTPConnection(host, port, timeout=10)
conn.sock = sock
conn.request("GET", path, headers={"Host": host})
response = conn.getresponse()
print(json.dumps({"status": response.status, "headers": {k.lower(): v for k, v in response.getheaders()},
                  "body": response.read().decode(errors="replace")}))
'''


def container(host) -> str:
    return host.backend.get_hostname()


def host_request(host, address: str, port: int, path: str, server_name: str, tls: bool = True) -> dict:
    """GET `path` from the test host itself to address:port, with `server_name` as SNI and Host."""
    out = host.check_output("python3 - %s %d %s '%s' '%s' <<'PYEOF'\n%s\nPYEOF" % (
        address, port, "https" if tls else "http", path, server_name, HOST_REQUEST))
    return json.loads(out)


def workers(host) -> tuple[int, list[int]]:
    """(MainPID, worker PIDs) of the service, from ps."""
    pid, children = testhost.workers(container(host), UNIT)
    return pid, children.workers


def cpu_ticks(host, pids: list[int]) -> dict[int, int]:
    """utime + stime (clock ticks) of each process, from /proc/<pid>/stat."""
    ticks = {}
    for pid in pids:
        fields = host.check_output(f"cat /proc/{pid}/stat").rsplit(")", 1)[1].split()
        ticks[pid] = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks


def run_load(server_name: str, address: str, cacert: Path, path: str, requests: int, rate: float = 0,
             concurrency: int = 4, duration: float = 60) -> dict:
    """GET `path` through nginx `requests` times with loadclient.py; its JSON report."""
    proc = subprocess.run([sys.executable, str(LOADCLIENT), "--url", f"https://{server_name}{path}",
                           "--connect-to", address, "--cacert", str(cacert), "--rate", str(rate),
                           "--concurrency", str(concurrency), "--max-requests", str(requests),
                           "--duration", str(duration), "--timeout", "15"],
                          capture_output=True, text=True, timeout=duration + 60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_for(condition, timeout: float = 60, interval: float = 0.5, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{what} not reached within {timeout:.0f} s")


@pytest.fixture
def load(server_name, address, cacert):
    """load(path, requests, rate=0, concurrency=4): loadclient's report of that many GETs."""
    return functools.partial(run_load, server_name, address, cacert)


@pytest.fixture(scope="session")
def figures():
    """(check, figure) rows; printed (and written to .cache/features/) at the end."""
    rows: list[tuple[str, str]] = []
    yield rows
    if not rows:
        return
    table = "\n".join(["| Check | Measured |", "|---|---|"] + ["| %s | %s |" % row for row in rows])
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / "figures.md").write_text(table + "\n")
    print("\n\nFeatures (molecule test -s features):\n" + table + "\n")
