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
from scenario import PROJECT, load_through_nginx  # noqa: E402

FIGURES_DIR = PROJECT / ".cache" / "operations"


@pytest.fixture(scope="session")
def figures():
    """Rows of the figures table; printed (and written to .cache/operations/) at the end."""
    rows: list[dict] = []
    yield rows
    if not rows:
        return
    lines = ["| Operation | Requests | Failed | p50 ms | p99 ms | Measured |",
             "|---|---:|---:|---:|---:|---|"]
    for row in rows:
        load = row.get("load") or {}
        lat = load.get("latency_ms", {})
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            row["operation"], load.get("total", "-"), load.get("failed", "-"),
            lat.get("p50", "-"), lat.get("p99", "-"), row.get("measured", "")))
    table = "\n".join(lines)
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / "figures.md").write_text(table + "\n")
    (FIGURES_DIR / "figures.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n\nOperations under load (molecule test -s operations):\n" + table + "\n")


@pytest.fixture
def load(server_name, address, cacert):
    """``with load() as result:`` keeps GET /pid going through nginx (HTTPS, verified) at a
    steady rate while the block runs; ``result`` holds the load client's JSON report after it."""
    return functools.partial(load_through_nginx, server_name, address, cacert)
