"""Metrics: a prometheus_client counter summed over every worker through PROMETHEUS_MULTIPROC_DIR
equals the requests counted, after a rolling reload too; a start empties the directory. And
nginx's stub_status answers loopback clients only."""
from __future__ import annotations

import re

from conftest import UNIT, host_request, own_address, row, wait_for, workers

METRICS_DIR = "/run/sample-metrics"


def counter(https) -> int:
    status, _, body = https("/metrics")
    assert status == 200, body
    found = re.search(r"^features_hits_total (\S+)$", body, re.M)
    return int(float(found.group(1))) if found else 0


def test_each_worker_writes_to_the_service_metrics_dir(host, https):
    directory = host.file(METRICS_DIR)
    assert directory.is_directory and directory.user == "sample" and directory.mode == 0o700
    assert f"PROMETHEUS_MULTIPROC_DIR={METRICS_DIR}" in host.check_output(f"systemctl show -p Environment {UNIT}")
    status, _, body = https("/multiproc")
    assert status == 200 and METRICS_DIR in body


def test_counter_sums_all_workers_and_survives_a_rolling_reload(host, https, load, figures):
    start = counter(https)
    first = load("/count", 600, concurrency=8)
    assert first["failed"] == 0, first
    served_by = {int(m) for m in re.findall(r"counter_(\d+)\.db", https("/multiproc")[2])}
    _, live = workers(host)
    assert len(set(live) & served_by) >= 2, f"the counts came from workers {served_by}, live {live}"
    after_load = counter(https)
    assert after_load - start == first["ok"], (start, after_load, first["ok"])

    main_pid, old = workers(host)
    host.check_output(f"systemctl reload {UNIT}")

    def all_new() -> bool:
        pid, now = workers(host)
        return pid == main_pid and len(now) == len(old) and not set(now) & set(old)
    wait_for(all_new, "a rolling reload that replaces every worker", timeout=90)
    after_reload = counter(https)
    second = load("/count", 300, concurrency=8)
    assert second["failed"] == 0, second
    total = counter(https)
    figures.append(row("metrics: counter after 600 requests / a rolling reload / 300 more",
                       f"+{after_load - start} / +{after_reload - start} / +{total - start} (workers {len(old)})"))
    assert after_reload == after_load, "the rolling reload lost or added counts"
    assert total - start == first["ok"] + second["ok"]


def test_a_start_empties_the_metrics_dir(host, https):
    assert counter(https) > 0
    old_pid, _ = workers(host)
    host.check_output(f"systemctl restart {UNIT}")

    def restarted() -> list[int]:
        pid, now = workers(host)
        return now if pid != old_pid and len(now) == 2 else []
    live = wait_for(restarted, "the restarted service's workers")
    assert counter(https) == 0
    files = host.check_output(f"ls {METRICS_DIR}").split()
    pids = {int(m) for m in re.findall(r"_(\d+)\.db", " ".join(files))}
    assert pids <= set(live), f"files of workers of the earlier run: {files}"


def test_stub_status_answers_loopback_only(host, https, server_name):
    answer = host_request(host, "127.0.0.1", 443, "/nginx_status", server_name)
    assert answer["status"] == 200 and answer["body"].startswith("Active connections:"), answer
    status, _, body = https("/nginx_status")  # from the controller, through the bridge
    assert status == 403, body
    assert host_request(host, own_address(host), 443, "/nginx_status", server_name)["status"] == 403
