"""A second deploy with the same names: nothing changes and the CA is not asked for an order."""
from __future__ import annotations

import re
import time

from conftest import orders, run_deploy

testinfra_hosts = ["ansible://asgi_uvicorn"]


def test_rerun_changes_nothing_and_orders_nothing(host, figures):
    orders_before = orders()
    start = time.monotonic()
    proc = run_deploy({})
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    recap = re.search(r"\n(\S*asgi-uvicorn-acme\S*)\s*:\s*ok=\d+\s+changed=(\d+)", proc.stdout)
    assert recap, proc.stdout[-2000:]
    changed = [m.group(0) for m in re.finditer(r"changed: \[[^\]]+\].*", proc.stdout)]
    figures.append({"step": "re-run of the deploy, same names", "seconds": seconds,
                    "measured": f"changed={recap.group(2)}; {orders() - orders_before} new order(s)"})
    assert recap.group(2) == "0", changed
    assert "Order the certificate" in proc.stdout and orders() == orders_before
