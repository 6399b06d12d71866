# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.asgi.uvicorn.plugins.module_utils import _workers_proc as wp
from ansible_collections.asgi.uvicorn.plugins.module_utils import _workers_wait as ww


# ------------------------------------------------------------- parsing ---

def test_parse_systemctl_show():
    out = "MainPID=1234\nActiveState=active\nSubState=running\nLoadState=loaded\n\nbogus line\n"
    assert ww.parse_systemctl_show(out) == {
        "MainPID": "1234", "ActiveState": "active", "SubState": "running", "LoadState": "loaded"}
    # Values may contain '='; keep the first occurrence of a key.
    assert ww.parse_systemctl_show("A=b=c\nA=d\n") == {"A": "b=c"}


@pytest.mark.parametrize("name, unit", [
    ("app", "app.service"), ("app.service", "app.service"), ("my.app", "my.app.service"),
    ("app@1", "app@1.service"), ("app.socket", "app.socket")])
def test_normalize_unit(name, unit):
    assert ww.normalize_unit(name) == unit


def test_check_unit_state():
    props = {"MainPID": "1234", "ActiveState": "active", "SubState": "running", "LoadState": "loaded"}
    assert ww.check_unit_state(ww.unit_state(props)) == 1234
    assert ww.check_unit_state(ww.unit_state(dict(props, ActiveState="reloading"))) == 1234
    with pytest.raises(wp.Fatal, match="does not exist"):
        ww.check_unit_state(ww.unit_state(
            {"MainPID": "0", "ActiveState": "inactive", "SubState": "dead", "LoadState": "not-found"}))
    failed = ww.unit_state({"MainPID": "0", "ActiveState": "failed", "SubState": "failed", "LoadState": "loaded"})
    with pytest.raises(wp.NotReady, match=r"not running \(ActiveState=failed, SubState=failed, MainPID 0\)"):
        ww.check_unit_state(failed)
    assert failed.active_state == "failed"
    with pytest.raises(wp.NotReady, match="no main process"):
        ww.check_unit_state(ww.unit_state(dict(props, MainPID="0")))


def test_unit_state():
    props = {"MainPID": "1234", "ActiveState": "active", "SubState": "running", "LoadState": "loaded"}
    assert ww.unit_state(props) == ww.UnitState(load_state="loaded", active_state="active", sub_state="running",
                                                main_pid=1234)
    # systemd leaves MainPID empty or out for some unit types; a garbled one is no pid either.
    assert ww.unit_state({}) == ww.UnitState(load_state=None, active_state=None, sub_state=None, main_pid=0)
    assert ww.unit_state({"MainPID": ""}).main_pid == 0
    assert ww.unit_state({"MainPID": "x"}).main_pid == 0
    with pytest.raises(wp.Fatal, match="is masked"):
        ww.check_unit_state(ww.unit_state(dict(props, LoadState="masked")))


def test_read_pidfile(tmp_path):
    f = tmp_path / "app.pid"
    with pytest.raises(wp.NotReady, match="does not exist"):
        ww.read_pidfile(str(f))
    f.write_text("")
    with pytest.raises(wp.NotReady, match="is empty"):
        ww.read_pidfile(str(f))
    f.write_text("garbage\n")
    with pytest.raises(wp.Fatal, match="does not contain a pid"):
        ww.read_pidfile(str(f))
    f.write_text("4321\n")
    assert ww.read_pidfile(str(f)) == 4321


# ----------------------------------------------------------- wait logic ---

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def snap_of(pids, main_pid=1234, starttimes=None, epochs=None, main_cmdline="uvicorn app:app", main_is_uvicorn=True):
    """A Snapshot of workers with these pids (start times in ticks and epoch seconds optional)."""
    starttimes = starttimes or [1] * len(pids)
    epochs = epochs or [0.0] * len(pids)
    workers = tuple(wp.Worker(pid=pid, starttime=ticks, started_epoch=epoch, started_at=wp.iso_utc(epoch),
                              cmdline="spawn_main", rss_bytes=None)
                    for pid, ticks, epoch in zip(pids, starttimes, epochs))
    return wp.Snapshot(main_pid=main_pid, workers=workers, supervised=True, main_cmdline=main_cmdline,
                       main_is_uvicorn=main_is_uvicorn)


def scripted(*steps):
    """Reader returning (or raising) the given steps; the last one repeats forever."""
    steps = list(steps)
    calls = []

    def read():
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        calls.append(step)
        if isinstance(step, Exception):
            raise step
        return step
    read.calls = calls
    return read


def test_wait_succeeds_after_settle():
    clock = FakeClock()
    read = scripted(snap_of([1, 2]), snap_of([1, 2, 3]))
    res = ww.wait_for_workers(read, 3, 30, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert res.ok and res.error is None
    assert res.snapshot.worker_pids == [1, 2, 3]
    # first read (2 workers), then 3 workers at t=0.25, stable at t=0.75
    assert res.waited == pytest.approx(0.75)
    assert len(read.calls) == 4


def test_wait_restarts_settle_when_set_changes():
    clock = FakeClock()
    # Same count but a worker was replaced (new pid) -> settle starts over.
    read = scripted(snap_of([1, 2, 3]), snap_of([1, 2, 3]), snap_of([1, 2, 4]), snap_of([1, 2, 4]),
                    snap_of([1, 2, 4]))
    res = ww.wait_for_workers(read, 3, 30, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert res.ok and res.snapshot.worker_pids == [1, 2, 4]
    assert res.waited == pytest.approx(1.0)


def test_wait_treats_restarted_process_with_same_pid_as_change():
    clock = FakeClock()
    read = scripted(snap_of([1, 2], starttimes=[5, 5]), snap_of([1, 2], starttimes=[5, 9]),
                    snap_of([1, 2], starttimes=[5, 9]))
    res = ww.wait_for_workers(read, 2, 30, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert res.ok and res.waited == pytest.approx(0.75)


def test_wait_times_out_with_last_snapshot():
    clock = FakeClock()
    read = scripted(snap_of([1301, 1302, 1305]))
    res = ww.wait_for_workers(read, 4, 2, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert not res.ok
    assert res.snapshot.worker_pids == [1301, 1302, 1305]
    assert res.waited == pytest.approx(2.0)
    assert max(clock.sleeps) <= 0.25


def test_wait_timeout_zero_reads_once():
    clock = FakeClock()
    read = scripted(snap_of([1, 2, 3]))
    res = ww.wait_for_workers(read, 3, 0, clock=clock, sleep=clock.sleep)
    assert res.ok and res.waited == 0 and clock.sleeps == [] and len(read.calls) == 1
    res = ww.wait_for_workers(read, 4, 0, clock=clock, sleep=clock.sleep)
    assert not res.ok and clock.sleeps == []


def test_wait_short_timeout_accepts_match_at_deadline():
    clock = FakeClock()
    read = scripted(snap_of([7, 8]))
    res = ww.wait_for_workers(read, 2, 0.3, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert res.ok and res.waited == pytest.approx(0.3)


def test_wait_without_expected_reports_first_read():
    clock = FakeClock()
    read = scripted(snap_of([1]))
    res = ww.wait_for_workers(read, None, 30, clock=clock, sleep=clock.sleep)
    assert res.ok and res.snapshot.worker_count == 1 and res.waited == 0


def test_wait_repolls_not_ready_until_service_is_back():
    clock = FakeClock()
    down = wp.NotReady("is not running (ActiveState=activating, SubState=auto-restart, MainPID 0)")
    read = scripted(down, down, snap_of([1, 2]))
    res = ww.wait_for_workers(read, 2, 30, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert res.ok and res.waited == pytest.approx(1.0)


def test_wait_not_ready_until_timeout_returns_last_error():
    clock = FakeClock()
    read = scripted(wp.NotReady("first"), wp.NotReady("last"))
    res = ww.wait_for_workers(read, 2, 1, clock=clock, sleep=clock.sleep)
    assert not res.ok and res.snapshot is None and str(res.error) == "last" and res.waited == pytest.approx(1.0)


def test_wait_fatal_propagates_immediately():
    clock = FakeClock()
    with pytest.raises(wp.Fatal):
        ww.wait_for_workers(scripted(wp.Fatal("does not exist")), 2, 30, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


# ------------------------------------------------------------- messages ---

def test_failure_message_count_mismatch():
    msg = ww.failure_message("unit", "app.service", 4, snap_of([1301, 1302, 1305]), None, 30.0, 30)
    assert msg == "unit app.service (MainPID 1234): expected 4 Uvicorn workers, found 3: [1301, 1302, 1305] " \
                  "after waiting 30.0 s"


def test_failure_message_names_a_wrapper_main_process():
    snap = snap_of([], main_cmdline="/bin/bash /srv/app/start.sh", main_is_uvicorn=False)
    assert ww.failure_message("unit", "app.service", 2, snap, None, 30.0, 30) == (
        "unit app.service (MainPID 1234): expected 2 Uvicorn workers, found 0: [] after waiting 30.0 s; "
        "the main process is not a uvicorn/fastapi command: '/bin/bash /srv/app/start.sh'")


def test_failure_message_variants():
    assert ww.failure_message("pid", 1234, 2, snap_of([]), None, 0, 0) == \
        "PID 1234: expected 2 Uvicorn workers, found 0: [] (checked once, timeout 0)"
    assert ww.failure_message("pidfile", "/run/app.pid", 2, snap_of([5]), None, 1.234, 1).startswith(
        "pidfile /run/app.pid (PID 1234): expected 2 Uvicorn workers, found 1: [5] after waiting 1.2 s")
    err = wp.NotReady("is not running (ActiveState=failed, SubState=failed, MainPID 0)")
    assert ww.failure_message("unit", "app.service", 2, None, err, 30.0, 30) == (
        "unit app.service: is not running (ActiveState=failed, SubState=failed, MainPID 0) after waiting 30.0 s; "
        "see journalctl -u app.service")


# ------------------------------------------------- release gate, scaling ---

def test_older_workers():
    snap = snap_of([1, 2], epochs=[100.0, 100.5])
    assert ww.older_workers(snap, None) == []
    assert ww.older_workers(snap, 100.2) == [1]
    assert ww.older_workers(snap, 99.0) == []


@pytest.mark.parametrize("current, expected, sig", [(4, 6, "SIGTTIN"), (6, 2, "SIGTTOU"), (3, 3, None)])
def test_scale_signal(current, expected, sig):
    assert ww.scale_signal(current, expected) == sig


class FakeSupervisor:
    """Answers read() like find_workers and reacts to TTIN/TTOU like Uvicorn's supervisor."""

    def __init__(self, count, deaf=False, burst_merge=False):
        self.pids = list(range(101, 101 + count))
        self.next_pid = 200
        self.sent = []
        self.deaf = deaf

    def read(self, epochs=None):
        return snap_of(self.pids, main_pid=1, epochs=epochs)

    def send(self, pid, sig):
        assert pid == 1
        self.sent.append(sig)
        if self.deaf:
            return
        if sig == "SIGTTIN":
            self.pids.append(self.next_pid)
            self.next_pid += 1
        elif sig == "SIGTTOU" and len(self.pids) > 1:
            self.pids.pop()


def _fast_clock():
    now = [0.0]

    def clock():
        return now[0]

    def sleep(seconds):
        now[0] += seconds
    return clock, sleep


@pytest.mark.parametrize("start, target, signals", [(4, 6, ["SIGTTIN"] * 2), (6, 2, ["SIGTTOU"] * 4), (3, 3, [])])
def test_scale_workers_one_signal_per_step(start, target, signals):
    sup = FakeSupervisor(start)
    clock, sleep = _fast_clock()
    res = ww.scale_workers(sup.read(), sup.read, sup.send, target, 5, settle=0.5, clock=clock, sleep=sleep)
    assert res.ok and res.error is None
    assert sup.sent == signals
    assert res.snapshot.worker_count == target
    step = 1 if target > start else -1
    assert res.counts == list(range(start + step, target + step, step)) if signals else res.counts == []


def test_scale_workers_stops_when_a_signal_has_no_effect():
    sup = FakeSupervisor(2, deaf=True)
    clock, sleep = _fast_clock()
    res = ww.scale_workers(sup.read(), sup.read, sup.send, 4, 3, settle=0.5, clock=clock, sleep=sleep)
    assert not res.ok
    assert sup.sent == ["SIGTTIN"]  # no second signal while the first had no effect
    assert res.snapshot.worker_count == 2 and res.counts == [2]


def test_wait_for_workers_started_after_waits_for_new_workers():
    sup = FakeSupervisor(2)
    clock, sleep = _fast_clock()
    reads = []

    def read():
        # both workers replaced after 2 s of (fake) time, like a rolling restart
        epoch = 10.0 if clock() >= 2 else 0.0
        reads.append(clock())
        return sup.read(epochs=[epoch] * len(sup.pids))
    res = ww.wait_for_workers(read, 2, 10, settle=0.5, clock=clock, sleep=sleep, started_after=5.0)
    assert res.ok and res.waited >= 2
    res = ww.wait_for_workers(read, 2, 1, settle=0.5, clock=clock, sleep=sleep, started_after=50.0)
    assert not res.ok
    msg = ww.failure_message("unit", "app.service", 2, res.snapshot, None, res.waited, 1, started_after=50.0)
    assert "expected 2 Uvicorn workers started after 1970-01-01T00:00:50Z, but 2 of 2 started before: [101, 102]" in msg


def test_started_after_without_expected_needs_all_workers_new():
    sup = FakeSupervisor(3)
    clock, sleep = _fast_clock()

    def read():
        # one worker replaced per second
        return sup.read(epochs=[10.0 if clock() >= i + 1 else 0.0 for i in range(len(sup.pids))])
    res = ww.wait_for_workers(read, None, 10, settle=0.5, clock=clock, sleep=sleep, started_after=5.0)
    assert res.ok and res.waited >= 3


# ------------------------------------------------------- real Uvicorn ---

APP = textwrap.dedent("""
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_serving(proc: subprocess.Popen, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("uvicorn exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("uvicorn did not serve on port %d" % port)


@pytest.fixture
def real_uvicorn(tmp_path):
    """Start ``python -m uvicorn`` on a free loopback port; yields a starter."""
    pytest.importorskip("uvicorn")
    (tmp_path / "tinyapp.py").write_text(APP)
    procs = []
    # WEB_CONCURRENCY would change the number of workers behind our back.
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}

    def start(*extra: str) -> subprocess.Popen:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tinyapp:app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"] + list(extra),
            cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        procs.append(proc)
        _wait_serving(proc, port)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # The supervisor did not shut down: kill it and whatever workers remain.
                for pid in wp.list_pids("/proc"):
                    info = wp.read_process("/proc", pid)
                    if info and info.ppid == proc.pid:
                        os.kill(pid, signal.SIGKILL)
                proc.kill()
                proc.wait()


def _wait_real(pid: int, expected: int, timeout: float = 20.0):
    res = ww.wait_for_workers(lambda: wp.find_workers("/proc", pid), expected, timeout)
    assert res.ok, ww.failure_message("pid", pid, expected, res.snapshot, res.error, res.waited, timeout)
    return res.snapshot


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_real_uvicorn_workers_kill_and_ttin(real_uvicorn):
    server = real_uvicorn("--workers", "3")
    snap = _wait_real(server.pid, 3)
    assert snap.worker_count == 3
    for worker in snap.workers:
        assert "spawn_main" in worker.cmdline and "resource_tracker" not in worker.cmdline
        assert worker.rss_bytes > 0
        assert worker.started_at.endswith("Z")

    # The supervisor's resource tracker is a child but not a worker.
    children = wp.children_of("/proc", wp.read_process("/proc", server.pid))
    trackers = [c.pid for c in children if wp.is_resource_tracker(c.argv)]
    assert len(trackers) == 1 and trackers[0] not in snap.worker_pids
    assert len(children) == 4

    # A killed worker is replaced; the wait returns a fresh stable set without it.
    victim = snap.worker_pids[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until the kernel has turned it into a zombie (or it is reaped)
        info = wp.read_process("/proc", victim)
        if info is None or info.state in ("Z", "X") or info.ppid != server.pid:
            break
        time.sleep(0.02)
    snap2 = _wait_real(server.pid, 3)
    assert victim not in snap2.worker_pids
    assert len(set(snap2.worker_pids) - set(snap.worker_pids)) == 1

    # SIGTTIN adds a worker.
    os.kill(server.pid, signal.SIGTTIN)
    snap3 = _wait_real(server.pid, 4)
    assert set(snap2.worker_pids) < set(snap3.worker_pids)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_real_uvicorn_single_process(real_uvicorn):
    server = real_uvicorn()
    snap = _wait_real(server.pid, 1, timeout=5)
    assert snap.worker_pids == [server.pid]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_real_uvicorn_scale_and_rolling_restart(real_uvicorn):
    server = real_uvicorn("--workers", "2")
    first = _wait_real(server.pid, 2)

    def read():
        return wp.find_workers("/proc", server.pid)

    def send(pid, sig):
        os.kill(pid, getattr(signal, sig))
    res = ww.scale_workers(first, read, send, 4, 20)
    assert res.ok, res.error
    assert res.counts == [3, 4] and res.snapshot.main_pid == server.pid
    res = ww.scale_workers(res.snapshot, read, send, 2, 20)
    assert res.ok and res.counts == [3, 2]
    snap = res.snapshot

    # After HUP (rolling restart) every worker is newer than the moment of the signal.
    moment = time.time()
    assert not ww.older_workers(snap, moment - 60)
    assert ww.older_workers(snap, moment) == snap.worker_pids
    os.kill(server.pid, signal.SIGHUP)
    res = ww.wait_for_workers(read, 2, 30, started_after=moment)
    assert res.ok, ww.failure_message("pid", server.pid, 2, res.snapshot, res.error, 30, 30, started_after=moment)
    assert not set(res.snapshot.worker_pids) & set(first.worker_pids)
