"""Renewal on the host, without the controller: certbot.timer starts certbot.service, which runs
`certbot renew`; certbot's deploy hook reloads nginx only when a certificate was renewed.

pebble's certificates last 90 days and certbot renews 30 days before the end, so the timer's
unit is started by hand once with --force-renewal added (a runtime drop-in, removed after), and
once as it is (nothing due: no order, no reload)."""
from __future__ import annotations

import time

from conftest import nginx_processes, orders, served

testinfra_hosts = ["ansible://asgi_uvicorn"]

FORCE = "/run/systemd/system/certbot.service.d/force.conf"


def no_failures(host, report: dict) -> str:
    errors = host.run("tail -n 15 /var/log/nginx/error.log").stdout
    return (f"{report['failed']} of {report['total']} requests failed: {report['failures']}\n"
            f"client: {report.get('failure_samples')}\nnginx error.log (last lines):\n{errors}")


def start_renewal_unit(host) -> float:
    start = time.monotonic()
    result = host.run("systemctl start certbot.service")
    assert result.rc == 0, host.run("journalctl -u certbot.service --no-pager -n 40").stdout
    return time.monotonic() - start


def test_forced_renewal_serves_a_new_serial_reloads_nginx_without_failures(
        host, address, server_name, root, load, figures):
    before = served(address, server_name, root)
    master, workers = nginx_processes(host)
    orders_before = orders()
    host.check_output(f"mkdir -p {FORCE.rsplit('/', 1)[0]} && printf '%s\\n' '[Service]' 'ExecStart=' "
                      f"'ExecStart=/usr/bin/certbot -q renew --no-random-sleep-on-renew --force-renewal' > {FORCE}"
                      " && systemctl daemon-reload")
    try:
        with load() as report:
            seconds = start_renewal_unit(host)
    finally:
        host.check_output(f"rm -f {FORCE} && systemctl daemon-reload")
    after = served(address, server_name, root)
    master_after, workers_after = nginx_processes(host)
    figures.append({"step": "forced renewal: systemctl start certbot.service (--force-renewal)", "seconds": seconds,
                    "load": report, "measured": f"serial {before.serial_number:x} -> {after.serial_number:x}; "
                    f"{orders() - orders_before} new order(s); nginx workers {workers} -> {workers_after}; "
                    f"{report['retried_reused']} GETs sent again after a keep-alive close"})
    assert after.serial_number != before.serial_number, "the renewed certificate is not served"
    assert master_after == master and not set(workers_after) & set(workers), "nginx must reload (new workers)"
    assert orders() - orders_before == 1
    assert report["failed"] == 0, no_failures(host, report)


def test_renewal_with_nothing_due_neither_orders_nor_reloads(host, address, server_name, root, figures):
    before = served(address, server_name, root)
    processes = nginx_processes(host)
    orders_before = orders()
    seconds = start_renewal_unit(host)
    figures.append({"step": "timer's unit, nothing due: systemctl start certbot.service", "seconds": seconds,
                    "measured": f"{orders() - orders_before} new order(s), nginx workers kept"})
    assert served(address, server_name, root).serial_number == before.serial_number
    assert nginx_processes(host) == processes, "nginx reloaded though no certificate changed"
    assert orders() == orders_before
