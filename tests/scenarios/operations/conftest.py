"""The operations scenario's own fixtures (a background load, the figures table); the shared
ones come from tests/lib/scenario.py."""
from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)
from scenario import PROJECT  # noqa: E402

LOADCLIENT = PROJECT / "tests" / "lib" / "loadclient.py"
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
    @contextlib.contextmanager
    def run(rate: float = 150, concurrency: int = 8, path: str = "/pid"):
        report: dict = {}
        proc = subprocess.Popen(
            [sys.executable, str(LOADCLIENT), "--url", f"https://{server_name}{path}", "--connect-to", address,
             "--cacert", str(cacert), "--rate", str(rate), "--concurrency", str(concurrency),
             "--duration", "300", "--timeout", "15"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)  # some load before the operation starts
        try:
            yield report
            time.sleep(1.5)  # and after it ends
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            report.update(json.loads(out))
    return run
