"""The features scenario's own fixtures and helpers; the shared ones come from tests/lib/scenario.py."""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)
from scenario import figures_table, host_python, requests_through_nginx  # noqa: E402

import testhost  # noqa: E402

UNIT = "sample"
STATIC = "/srv/sample/shared/static"
CSS = "/static/css/app.3f9a1c2e.css"
# Where nginx serves every site as on port 443, for the health gate on the host.
HTTPS_SOCKET = "/run/asgi-uvicorn-nginx/https.sock"


def host_request(host, target: str, port: int, path: str, server_name: str, tls: bool = True) -> dict:
    """GET `path` from the test host itself to target:port (or the unix socket `target`), with
    `server_name` as SNI and Host: {"status", "headers", "body"} (tests/lib/hostrequest.py)."""
    return json.loads(host_python(host, "hostrequest.py", target, str(port), "https" if tls else "http", path,
                                  server_name))


def own_address(host) -> str:
    """The host's own address on the Docker bridge: a client that is neither loopback nor trusted."""
    return host.check_output("hostname -I").split()[0]


def workers(host) -> tuple[int, list[int]]:
    """(MainPID, worker PIDs) of the service, from ps."""
    pid, children = testhost.workers(host.backend.get_hostname(), UNIT)
    return pid, children.workers


def cpu_ticks(host, pids: list[int]) -> dict[int, int]:
    """utime + stime (clock ticks) of each process, from /proc/<pid>/stat."""
    ticks = {}
    for pid in pids:
        fields = host.check_output(f"cat /proc/{pid}/stat").rsplit(")", 1)[1].split()
        ticks[pid] = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks


@pytest.fixture
def load(server_name, address, cacert):
    """load(path, requests, rate=0, concurrency=4): loadclient's report of that many GETs."""
    return functools.partial(requests_through_nginx, server_name, address, cacert)


def table(rows: list[dict]) -> str:
    return "\n".join(["| Check | Measured |", "|---|---|"]
                     + [f"| {row['check']} | {row['measured']} |" for row in rows])


@pytest.fixture(scope="session")
def figures():
    """Rows {"check", "measured"}; printed (and written to .cache/features/) at the end."""
    with figures_table("features", "Features (molecule test -s features)", table) as rows:
        yield rows


def row(check: str, measured: str) -> dict:
    """A row of the figures table."""
    return {"check": check, "measured": measured}
