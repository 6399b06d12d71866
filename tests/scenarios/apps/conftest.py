"""The apps scenario's fixtures and helpers; the shared ones come from tests/lib/scenario.py.

Each check deploys its own app beside the sample app (converge's), with its own name, site and
certificate, through the collection's deploy playbook as a user would."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)
from scenario import curl, figures_table, play_failures, run_deploy, site_cacert  # noqa: E402

HERE = Path(__file__).resolve().parent
# fastapi run needs fastapi-cli in the virtualenv (fastapi[standard] brings it too).
FASTAPI_CLI = "fastapi-cli==0.0.34"


def site(app: str) -> str:
    return f"{app}.example.test"


def deploy(app: str, **extra) -> subprocess.CompletedProcess:
    """Deploy `app` (its name, unit and site) with these variables; the JSON report is stdout."""
    return run_deploy({"app_name": app, "server_name": site(app), "workers": 2, **extra}, as_json=True)


def deployed(app: str, **extra) -> dict:
    """deploy(), which must pass: its JSON report."""
    proc = deploy(app, **extra)
    assert proc.returncode == 0, play_failures(json.loads(proc.stdout)) if proc.stdout.startswith("{") \
        else proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


def get(host, address: str, app: str, path: str, tmp_path: Path):
    """GET `path` of the app's site through nginx, its certificate verified: an Answer."""
    return curl(address, site(app), path, site_cacert(host, app, tmp_path))


def unit_state(host, unit: str) -> dict[str, str]:
    out = host.check_output(f"systemctl show --property=ActiveState,UnitFileState,NRestarts,MainPID,ExecStart {unit}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def exposure(host, unit_file: str) -> float:
    """systemd-analyze security's overall exposure of a unit file (offline: the file as written)."""
    out = host.check_output(f"systemd-analyze security --no-pager --offline=true {unit_file}")
    return float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))


def table(rows: list[dict]) -> str:
    return "\n".join(["| Check | Measured |", "|---|---|"]
                     + [f"| {row['check']} | {row['measured']} |" for row in rows])


@pytest.fixture(scope="session")
def figures():
    """Rows {"check", "measured"}; printed (and written to .cache/apps/) at the end."""
    with figures_table("apps", "Apps (molecule test -s apps)", table) as rows:
        yield rows
