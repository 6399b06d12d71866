# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Wait for, and scale, the workers of a Uvicorn service.

Internal to the asgi.uvicorn collection (its workers module): not part of the
public API; it can change or go in any release, without deprecation.

Where its main process is (a systemd unit's state, a pidfile), polling a
snapshot reader until the expected worker set is there and stable, moving a
supervisor one signal at a time, and the message a person reads on failure.
Clock, sleep and signal delivery are parameters so the tests need no time.
"""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass

from ansible_collections.asgi.uvicorn.plugins.module_utils._workers_proc import (
    Fatal,
    NotReady,
    Snapshot,
    iso_utc,
)

# Returns a fresh snapshot, or raises NotReady (poll again) or Fatal (give up).
Reader = t.Callable[[], Snapshot]


@dataclass(frozen=True)
class UnitState:
    """What ``systemctl show`` says about a unit."""

    load_state: str | None
    active_state: str | None
    sub_state: str | None
    main_pid: int  # 0 when systemd knows no main process


@dataclass(frozen=True)
class WaitResult:
    ok: bool
    snapshot: Snapshot | None  # of the last poll; None when it raised NotReady
    error: NotReady | None  # of the last poll
    waited: float  # seconds


@dataclass(frozen=True)
class ScaleResult:
    ok: bool
    snapshot: Snapshot | None  # of the last poll
    error: NotReady | None  # of the last poll
    counts: list[int]  # the worker count after each signal


# ------------------------------------------------------------ the target ---

def parse_systemctl_show(text: str) -> dict[str, str]:
    """Parse ``systemctl show --property=...`` output (``Key=value`` lines)."""
    props = {}
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            props.setdefault(key.strip(), value.strip())
    return props


def normalize_unit(name: str) -> str:
    """Append ``.service`` unless the name already has a unit suffix."""
    suffixes = (".service", ".socket", ".target", ".scope", ".slice", ".timer",
                ".mount", ".path", ".swap", ".device", ".automount")
    if name.endswith(suffixes):
        return name
    return name + ".service"


def unit_state(props: dict[str, str]) -> UnitState:
    """The unit's state from parsed ``systemctl show`` properties."""
    try:
        main_pid = int(props.get("MainPID") or 0)
    except ValueError:
        main_pid = 0
    return UnitState(load_state=props.get("LoadState"), active_state=props.get("ActiveState"),
                     sub_state=props.get("SubState"), main_pid=main_pid)


def check_unit_state(state: UnitState) -> int:
    """Return MainPID of an active unit, else raise Fatal/NotReady with the state.

    Messages do not name the unit; callers prefix them (see describe_target).
    """
    summary = "ActiveState=%s, SubState=%s, MainPID %d" % (state.active_state, state.sub_state, state.main_pid)
    if state.load_state == "not-found":
        raise Fatal("does not exist (LoadState=not-found)")
    if state.load_state == "masked":
        raise Fatal("is masked (LoadState=masked)")
    if state.active_state not in ("active", "reloading"):
        raise NotReady("is not running (%s)" % summary)
    if state.main_pid == 0:
        # Type=oneshot or forking without PIDFile= leaves systemd without a main pid.
        raise NotReady("has no main process (%s)" % summary)
    return state.main_pid


def read_pidfile(path: str) -> int:
    """PID from a pidfile; NotReady while it is missing/empty (service starting).

    Messages do not name the file; callers prefix them.
    """
    try:
        with open(path) as f:
            content = f.read().strip()
    except FileNotFoundError:
        raise NotReady("does not exist")
    except OSError as e:
        raise Fatal("cannot be read: %s" % e)
    if not content:
        raise NotReady("is empty")
    try:
        pid = int(content.split()[0])
    except ValueError:
        raise Fatal("does not contain a pid: %r" % content[:80])
    if pid <= 0:
        raise Fatal("contains invalid pid %d" % pid)
    return pid


# ---------------------------------------------------------------- waiting ---

def older_workers(snap: Snapshot, started_after: float | None) -> list[int]:
    """PIDs of the workers in ``snap`` that started before ``started_after``."""
    if started_after is None:
        return []
    return [w.pid for w in snap.workers if w.started_epoch <= started_after]


def wait_for_workers(
    read: Reader,
    expected: int | None,
    timeout: float,
    settle: float = 0.5,
    interval: float = 0.25,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
    started_after: float | None = None,
) -> WaitResult:
    """Poll ``read`` until the expected number of workers is there and stable.

    NotReady from ``read`` is retried, Fatal propagates.  Success needs the same
    worker set (pids and start times) for ``settle`` seconds, so a worker that
    crash-loops is not mistaken for a healthy one; with ``timeout`` 0 one read
    decides.  Without ``expected`` the first good read is returned.  With
    ``started_after`` (epoch seconds) every worker must also have started
    after that moment, e.g. after a new release went live.
    """
    start = clock()
    deadline = start + timeout
    last_key = None
    stable_since = start
    while True:
        now = clock()
        snap = None
        error = None
        try:
            snap = read()
        except NotReady as e:
            error = e
            last_key = None
        if snap is not None:
            key = (snap.main_pid, snap.key)
            if key != last_key:
                last_key = key
                stable_since = now
            if expected is None and started_after is None:
                return WaitResult(True, snap, None, now - start)
            fresh = snap.worker_count > 0 and not older_workers(snap, started_after)
            count_ok = expected is None or snap.worker_count == expected
            if count_ok and fresh and (now - stable_since >= settle or now >= deadline):
                return WaitResult(True, snap, None, now - start)
        if now >= deadline:
            return WaitResult(False, snap, error, now - start)
        sleep(min(interval, deadline - now))


# ---------------------------------------------------------------- scaling ---

def scale_signal(current: int, expected: int) -> str | None:
    """The signal that moves a Uvicorn supervisor one worker towards ``expected``."""
    if current < expected:
        return "SIGTTIN"
    if current > expected:
        return "SIGTTOU"
    return None


def scale_workers(
    first: Snapshot,
    read: Reader,
    send: t.Callable[[int, str], None],
    expected: int,
    step_timeout: float,
    settle: float = 0.5,
    interval: float = 0.25,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
) -> ScaleResult:
    """Add or remove workers one signal at a time until ``expected`` run.

    One signal per step, then wait for its effect: Python merges a burst of the
    same signal into one handler call, so sending several at once loses some.
    ``first`` is the caller's snapshot before any signal, ``send(main_pid,
    signal_name)`` delivers a signal.
    """
    step = WaitResult(True, first, None, 0.0)
    counts: list[int] = []
    while step.ok and step.snapshot is not None:
        snap = step.snapshot
        sig = scale_signal(snap.worker_count, expected)
        if sig is None:
            break
        target = snap.worker_count + (1 if sig == "SIGTTIN" else -1)
        send(snap.main_pid, sig)
        step = wait_for_workers(read, target, step_timeout, settle, interval, clock, sleep)
        if step.snapshot is not None:
            counts.append(step.snapshot.worker_count)
    return ScaleResult(step.ok, step.snapshot, step.error, counts)


# ------------------------------------------------------------- messages ---

def describe_target(kind: str, name: str | int, main_pid: int | None = None) -> str:
    """``unit app.service (MainPID 1234)``, ``pidfile /run/app.pid (PID 1234)`` or ``PID 1234``."""
    if kind == "pid":
        return "PID %s" % name
    label = "%s %s" % (kind, name)
    if main_pid:
        label += " (%s %d)" % ("MainPID" if kind == "unit" else "PID", main_pid)
    return label


def failure_message(
    kind: str,
    name: str | int,
    expected: int,
    snap: Snapshot | None,
    error: NotReady | None,
    waited: float,
    timeout: float,
    started_after: float | None = None,
) -> str:
    """Message a person can act on, e.g.

    ``unit app.service (MainPID 1234): expected 4 Uvicorn workers, found 3:
    [1301, 1302, 1305] after waiting 30.0 s``

    ``kind`` is "unit", "pidfile" or "pid" and ``name`` its value.
    """
    when = "after waiting %.1f s" % waited if timeout > 0 else "(checked once, timeout 0)"
    if snap is None:
        reason = str(error) if error is not None else "no information"
        msg = "%s: %s %s" % (describe_target(kind, name), reason, when)
        if kind == "unit":
            msg += "; see journalctl -u %s" % name
        return msg
    msg = "%s: expected %d Uvicorn workers, found %d: %s %s" % (
        describe_target(kind, name, snap.main_pid), expected, snap.worker_count, snap.worker_pids, when)
    older = older_workers(snap, started_after)
    if (snap.worker_count == expected or not expected) and older and started_after is not None:
        msg = "%s: expected %s Uvicorn workers started after %s, but %d of %d started before: %s %s" % (
            describe_target(kind, name, snap.main_pid), expected or "all", iso_utc(started_after), len(older),
            snap.worker_count, older, when)
    if not snap.worker_count and not snap.main_is_uvicorn:
        # Typically a wrapper script that runs uvicorn without exec.
        msg += "; the main process is not a uvicorn/fastapi command: %r" % snap.main_cmdline[:200]
    return msg
