"""The operations scenario's own fixtures (a background load, the figures table); the shared
ones come from tests/lib/scenario.py."""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)
from scenario import figures_table, load_table, load_through_nginx, run_deploy, run_workers_module  # noqa: E402


@pytest.fixture(scope="session")
def figures():
    """Rows of the figures table; printed (and written to .cache/operations/) at the end."""
    with figures_table("operations", "Operations under load (molecule test -s operations)", load_table) as rows:
        yield rows


@pytest.fixture
def load(server_name, address, cacert):
    """``with load() as result:`` keeps GET /pid going through nginx (HTTPS, verified) at a
    steady rate while the block runs; ``result`` holds the load client's JSON report after it."""
    return functools.partial(load_through_nginx, server_name, address, cacert)


@pytest.fixture(scope="module", autouse=True)
def converged(app_name, https):
    """The state the steps start from, converge's: VERSION 1 (the inventory's app_source) with 4
    workers. The steps end elsewhere (2 workers); a deploy with the inventory's variables puts
    the host back, so that `molecule verify` can run again on the same host."""
    failed, result = run_workers_module({"unit": app_name, "timeout": 30})
    status, _, body = https("/health")
    if failed or result["worker_count"] != 4 or status != 200 or json.loads(body)["version"] != "1":
        proc = run_deploy({})
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
