"""Both launchers with the source types an app comes from: `fastapi run` from a directory (and a
rolling reload that imports the new release through `current`) and from a wheel, and Uvicorn with
an app factory gated on its own health path and status."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import FASTAPI_CLI, HERE, deployed, get, unit_state

from scenario import app_release

testinfra_hosts = ["ansible://asgi_uvicorn"]


def test_fastapi_run_from_a_directory_and_a_rolling_reload(host, address, tmp_path, figures):
    common = {"service_launcher": "fastapi", "service_bind": "tcp", "service_port": 8101,
              "app_requirements": [FASTAPI_CLI]}
    deployed("fadir", app_source=app_release(tmp_path, "v1"), **common)
    state = unit_state(host, "fadir.service")
    assert "fastapi run --entrypoint main:app" in state["ExecStart"].replace(" ; ", " "), state["ExecStart"]
    first = get(host, address, "fadir", "/", tmp_path)
    assert first.status == 200 and json.loads(first.body)["version"] == "v1", first

    deployed("fadir", app_source=app_release(tmp_path, "v2"), **common)
    after = unit_state(host, "fadir.service")
    second = get(host, address, "fadir", "/", tmp_path)
    assert second.status == 200 and json.loads(second.body)["version"] == "v2", second
    # A rolling reload (HUP): the same supervisor, new workers that import the new release.
    assert after["MainPID"] == state["MainPID"], (state, after)
    figures.append({"check": "fastapi run from a directory, v1 -> v2",
                    "measured": f"reload kept MainPID {after['MainPID']}; answers {json.loads(second.body)['version']}"})


def test_fastapi_run_from_a_wheel(host, address, tmp_path, figures):
    # Built from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = shutil.copytree(HERE / "wheel_app", tmp_path / "wheel_app")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("appswheel-*.whl"))
    deployed("wheel", app_source_type="file", app_source=str(wheel), service_launcher="fastapi",
             service_bind="tcp", service_port=8102, app_module="appswheel:app")
    answer = get(host, address, "wheel", "/", tmp_path)
    assert answer.status == 200 and json.loads(answer.body)["app"] == "appswheel", answer
    module = json.loads(answer.body)["module"]
    assert "/site-packages/appswheel/" in module, module
    figures.append({"check": "fastapi run from a wheel", "measured": f"{wheel.name} serves from {module}"})


def test_uvicorn_factory_gated_on_its_own_health_path(host, address, tmp_path, figures):
    """The app has no /health: the gate asks /ready, which answers 204; with the default (/health,
    200) this deploy would fail. Its /metrics has prometheus_client's process_* metrics, which
    read /proc/stat (hidden by ProcSubset=pid)."""
    deployed("factory", app_source=str(HERE / "factory_app"), app_module="web:create_app",
             service_factory=True, proxy_health_path="/ready", release_gate_status=204)
    assert "--factory" in unit_state(host, "factory.service")["ExecStart"]
    answer = get(host, address, "factory", "/", tmp_path)
    assert answer.status == 200 and json.loads(answer.body)["made_by"] == "create_app", answer
    assert get(host, address, "factory", "/ready", tmp_path).status == 204
    assert get(host, address, "factory", "/health", tmp_path).status == 404
    metrics = get(host, address, "factory", "/metrics", tmp_path)
    found = sorted({line.split(" ")[0] for line in metrics.body.splitlines() if line.startswith("process_")})
    assert "process_cpu_seconds_total" in found and "process_start_time_seconds" in found, metrics.body[:2000]
    figures.append({"check": "uvicorn --factory, gate on GET /ready -> 204",
                    "measured": f"passed; /metrics has {len(found)} process_* metrics"})
