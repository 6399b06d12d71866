"""A second deploy with the same names: nothing changes and the CA is not asked for an order."""
from __future__ import annotations

import json
import time

from conftest import changed_tasks, orders, run_deploy

testinfra_hosts = ["ansible://asgi_uvicorn"]


def test_rerun_changes_nothing_and_orders_nothing(host, figures):
    orders_before = orders()
    start = time.monotonic()
    proc = run_deploy({}, as_json=True)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    changed = changed_tasks(json.loads(proc.stdout))
    figures.append({"step": "re-run of the deploy, same names", "seconds": seconds,
                    "measured": f"changed={sum(len(tasks) for tasks in changed.values())}; "
                    f"{orders() - orders_before} new order(s)"})
    assert changed and all(tasks == [] for tasks in changed.values()), changed
    assert orders() == orders_before
