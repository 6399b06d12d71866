"""The test host is a real systemd machine: the base every other scenario check stands on."""


def test_systemd_is_pid_1(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"


def test_system_is_running(host):
    state = host.run("systemctl is-system-running").stdout.strip()
    assert state in ("running", "degraded"), state


def test_a_unit_starts(host):
    name = "asgi-probe"
    host.run(f"systemctl stop {name} 2>/dev/null; systemctl reset-failed {name} 2>/dev/null")
    started = host.run(f"systemd-run --unit={name} --property=Type=simple sleep 30")
    assert started.rc == 0, started.stderr
    try:
        assert host.service(name).is_running
    finally:
        host.run(f"systemctl stop {name}")
