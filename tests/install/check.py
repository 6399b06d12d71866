#!/usr/bin/env python3
"""The install test's verdict on a deployed host (tests/install/run.sh runs it after the deploy).

    check.py PROJECT HOST APP SERVER_NAME WORKERS VERSION

Passes only when:
- the installed asgi.uvicorn.workers module, called from the user's project, reports WORKERS
  workers under the unit's MainPID, and exactly the PIDs `ps` shows (testhost.parse_children);
- https://SERVER_NAME/health, asked from this machine at the host's address with the host's
  certificate verified, answers {"status": "ok", "version": VERSION}.
Prints what it saw; exits 1 with the reason otherwise.
"""
from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import testhost  # noqa: E402
from loadclient import PinnedHTTPSConnection  # noqa: E402


def module_result(project: Path, unit: str, workers: int) -> dict:
    """asgi.uvicorn.workers run ad hoc from the user's project, as ansible's JSON callback reports it."""
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    proc = subprocess.run(
        ["ansible", "-i", "inventory.yml", "asgi_uvicorn", "-m", "asgi.uvicorn.workers",
         "-a", json.dumps({"unit": unit, "expected": workers, "timeout": 30})],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        sys.exit(f"check: no JSON from the workers module (exit {proc.returncode}): {proc.stderr[-2000:]}")
    (result,) = [r for play in out["plays"] for task in play["tasks"] for r in task["hosts"].values()]
    return result


def health(name: str, site: str, server_name: str, directory: Path) -> dict:
    """GET /health through nginx from this machine, with the host's certificate as the only CA."""
    cacert = testhost.fetch_cert(name, site, directory / "fullchain.pem")
    context = ssl.create_default_context(cafile=str(cacert))
    conn = PinnedHTTPSConnection(server_name, testhost.ip(name), 443, context, timeout=10)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        body = response.read().decode()
    finally:
        conn.close()
    if response.status != 200:
        sys.exit(f"check: https://{server_name}/health answered {response.status}: {body[:500]}")
    return json.loads(body)


def main() -> int:
    project, name, app, server_name, workers, version = sys.argv[1:7]
    expected = int(workers)
    errors = []

    result = module_result(Path(project), app, expected)
    main_pid, children = testhost.workers(name, app)
    # Uvicorn with one worker runs no supervisor: the main process serves by itself.
    ps_workers = children.workers or [main_pid]
    print(f"check: asgi.uvicorn.workers: failed={bool(result.get('failed'))} main_pid={result.get('main_pid')} "
          f"workers={result.get('worker_pids')}")
    print(f"check: ps: MainPID {main_pid}, workers {ps_workers}, resource tracker {children.trackers}")
    if result.get("failed"):
        errors.append(f"the module failed: {result.get('msg')}")
    if result.get("worker_count") != expected or len(ps_workers) != expected:
        errors.append(f"expected {expected} workers: the module counts {result.get('worker_count')}, "
                      f"ps shows {len(ps_workers)}")
    if result.get("main_pid") != main_pid or result.get("worker_pids") != ps_workers:
        errors.append("the module's MainPID and worker PIDs differ from what ps shows")

    answer = health(name, app, server_name, Path(project))
    print(f"check: https://{server_name}/health (certificate verified): {json.dumps(answer)}")
    if answer != {"status": "ok", "version": version}:
        errors.append(f"/health answered {answer}, not status ok and version {version}")

    for error in errors:
        print(f"check: FAILED: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
