"""The unit's exposure (systemd-analyze security) with /proc as the service sees it now, and with
ProcSubset=pid (service_proc_subset: pid), measured on the same unit file in the same run."""
from __future__ import annotations

from conftest import exposure

testinfra_hosts = ["ansible://asgi_uvicorn"]


def test_exposure_with_and_without_procsubset(host, app_name, figures):
    unit = f"/etc/systemd/system/{app_name}.service"
    text = host.check_output(f"cat {unit}")
    assert "ProcSubset=" not in text
    host.check_output(f"cp {unit} /tmp/asgi-all.service")
    host.check_output(f"sed 's/^ProtectProc=invisible$/&\\nProcSubset=pid/' {unit} > /tmp/asgi-pid.service")
    assert "ProcSubset=pid" in host.check_output("cat /tmp/asgi-pid.service")
    scores = {subset: exposure(host, f"/tmp/asgi-{subset}.service") for subset in ("all", "pid")}
    print(f"systemd-analyze security: service_proc_subset all {scores['all']}, pid {scores['pid']}")
    figures.append({"check": "systemd-analyze security exposure",
                    "measured": f"{scores['all']} (default, /proc/stat visible); {scores['pid']} with ProcSubset=pid"})
    assert scores["all"] <= 2.0 and scores["pid"] <= 2.0, scores
