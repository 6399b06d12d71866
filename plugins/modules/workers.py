#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: workers
short_description: Check, or scale live, the number of Uvicorn worker processes
version_added: 0.1.0
description:
  - Finds the main process of a systemd service (or a given PID or pidfile) and lists the Uvicorn worker
    processes under it by reading C(/proc).
  - Uvicorn started with C(--workers N) (N > 1), directly or through C(fastapi run), runs a supervisor whose
    children are N workers started by Python's C(multiprocessing) "spawn" method, plus one
    C(multiprocessing.resource_tracker) helper. Only the workers are counted; the resource tracker,
    zombies, processes that started before the supervisor (PID reuse) and unrelated children are ignored.
  - Uvicorn started without C(--workers) or with C(--workers 1) has no supervisor; its main process is then
    reported as the one worker.
  - With O(expected), waits up to O(timeout) seconds until exactly that many workers run and the same set
    of processes has stayed up for a short settle period (about half a second), then fails with a message
    that names the unit, its main PID and the worker PIDs found.
  - Without O(expected) the module only reports what it finds.
  - With O(scale=true) the module changes the number of workers of a running Uvicorn supervisor to
    O(expected) without a restart, one C(SIGTTIN) (add a worker) or C(SIGTTOU) (retire one) at a time,
    and reports C(changed). Otherwise it never changes anything.
author:
  - asgi.uvicorn maintainers (@asgi-uvicorn)
extends_documentation_fragment:
  - asgi.uvicorn._attributes
attributes:
  check_mode:
    support: full
    details: With O(scale=true), nothing is signalled; C(changed) says whether the count would change.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Once O(scale=true) has brought the count to O(expected), a second run finds nothing to change.
  platform:
    platforms: linux
    details: Reads C(/proc).
options:
  unit:
    description:
      - Name of the systemd unit that runs Uvicorn.
      - C(.service) is appended when the name has no unit suffix.
      - The main process is read from the unit's C(MainPID) with C(systemctl show).
      - While waiting, a unit that is not active or has no main process yet (for example, while it
        restarts) is polled again until O(timeout) runs out.
      - Exactly one of O(unit), O(pid) and O(pidfile) is required.
    type: str
  pid:
    description:
      - PID of the Uvicorn main process, for Uvicorn not run by systemd.
      - Exactly one of O(unit), O(pid) and O(pidfile) is required.
    type: int
  pidfile:
    description:
      - Path of a file that holds the PID of the Uvicorn main process.
      - Read again on every poll, so a restarted service is followed.
      - Exactly one of O(unit), O(pid) and O(pidfile) is required.
    type: path
  expected:
    description:
      - Number of Uvicorn workers that must be running, at least V(1).
      - When omitted, the module reports the workers it finds and does not fail on their number.
    type: int
  timeout:
    description:
      - Seconds to wait for O(expected) workers to be running and stable.
      - V(0) checks once without waiting.
    type: float
    default: 30.0
  started_after:
    description:
      - Epoch seconds (the host's clock). Every worker must have started after this moment, for
        example after a new release went live, so that the check proves the new code is serving.
      - Waits, like O(expected), up to O(timeout) seconds. Without O(expected), any number of workers
        will do as long as all of them started after this moment.
    type: float
  scale:
    description:
      - Send C(SIGTTIN) or C(SIGTTOU) to the Uvicorn supervisor until O(expected) workers run.
      - One signal at a time, each followed by a wait of up to O(timeout) seconds for its worker to start or
        stop, because several signals sent at once can be merged into one.
      - Requires O(expected) and a supervisor (Uvicorn started with C(--workers) of 2 or more); a single
        Uvicorn process cannot grow and must be restarted with C(--workers) instead.
      - Uvicorn forgets the change on its next start; also change the C(--workers) of the service
        (the P(asgi.uvicorn.service#role) role does both).
    type: bool
    default: false
notes:
  - Run with privileges (C(become)) when the service runs as another user; otherwise its environment
    (C(WEB_CONCURRENCY)) cannot be read and a Uvicorn started without C(--workers) is judged by its children.
  - Uvicorn started programmatically (calling C(uvicorn.run) inside a script) is recognised when it runs several
    workers; a single-process one is not, and reports no workers.
seealso:
  - name: Uvicorn deployment
    description: Running Uvicorn with several worker processes.
    link: https://www.uvicorn.org/deployment/
"""

EXAMPLES = r"""
- name: Grow the app from 4 to 6 workers without a restart
  asgi.uvicorn.workers:
    unit: myapp
    expected: 6
    scale: true

- name: Wait until the app runs 4 Uvicorn workers
  asgi.uvicorn.workers:
    unit: myapp
    expected: 4
    timeout: 60

- name: Report the workers of a service without failing on their number
  asgi.uvicorn.workers:
    unit: myapp.service
  register: myapp_workers

- name: Show the worker PIDs
  ansible.builtin.debug:
    msg: "{{ myapp_workers.worker_count }} workers: {{ myapp_workers.worker_pids | join(', ') }}"

- name: Check once, without waiting, a Uvicorn started outside systemd
  asgi.uvicorn.workers:
    pidfile: /run/myapp/uvicorn.pid
    expected: 2
    timeout: 0
"""

RETURN = r"""
main_pid:
  description:
    - PID of the main process (the Uvicorn supervisor, or the single Uvicorn process).
    - V(0) when no main process was found.
  returned: always
  type: int
  sample: 1234
worker_pids:
  description: PIDs of the Uvicorn workers, sorted.
  returned: always
  type: list
  elements: int
  sample: [1301, 1302, 1305, 1306]
worker_count:
  description: Number of Uvicorn workers found.
  returned: always
  type: int
  sample: 4
expected:
  description: The value of O(expected).
  returned: always
  type: int
  sample: 4
workers:
  description: One entry per Uvicorn worker, sorted by PID.
  returned: always
  type: list
  elements: dict
  contains:
    pid:
      description: PID of the worker.
      type: int
      returned: always
      sample: 1301
    rss_bytes:
      description: Resident memory of the worker in bytes, or V(null) if it could not be read.
      type: int
      returned: always
      sample: 52428800
    started_at:
      description: When the worker started, ISO-8601 in UTC, to the second.
      type: str
      returned: always
      sample: "2025-01-31T12:00:05Z"
    started_epoch:
      description: When the worker started, in epoch seconds (to about 10 ms).
      type: float
      returned: always
      sample: 1738324805.42
    cmdline:
      description: Command line of the worker, arguments joined by spaces.
      type: str
      returned: always
      sample: "/srv/myapp/venv/bin/python3 -c from multiprocessing.spawn import spawn_main;
        spawn_main(tracker_fd=5, pipe_handle=7) --multiprocessing-fork"
unit:
  description: The systemd unit checked, with its suffix, or V(null) when O(pid) or O(pidfile) was used.
  returned: always
  type: str
  sample: myapp.service
active_state:
  description: C(ActiveState) of the unit at the last check, or V(null) without O(unit).
  returned: always
  type: str
  sample: active
sub_state:
  description: C(SubState) of the unit at the last check, or V(null) without O(unit).
  returned: always
  type: str
  sample: running
supervised:
  description:
    - Whether the main process is a Uvicorn supervisor (started with C(--workers) of 2 or more), which can
      add and retire workers live; V(false) for a single Uvicorn process or when none was found.
  returned: always
  type: bool
  sample: true
scaled_from:
  description: Number of workers before O(scale=true) changed it, or V(null) when nothing was scaled.
  returned: always
  type: int
  sample: 4
waited:
  description: Seconds spent waiting, rounded to hundredths.
  returned: always
  type: float
  sample: 0.51
"""

import os
import signal
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.asgi.uvicorn.plugins.module_utils._workers_proc import (
    Fatal,
    NotReady,
    Snapshot,
    Worker,
    find_workers,
)
from ansible_collections.asgi.uvicorn.plugins.module_utils._workers_wait import (
    Reader,
    UnitState,
    WaitResult,
    check_unit_state,
    describe_target,
    failure_message,
    normalize_unit,
    parse_systemctl_show,
    read_pidfile,
    scale_signal,
    scale_workers,
    unit_state,
    wait_for_workers,
)

# Module-level so unit tests can point them at fabricated trees / speed them up.
PROC_ROOT = "/proc"
SETTLE_SECONDS = 0.5
POLL_INTERVAL = 0.25
SHOW_PROPERTIES = "MainPID,ActiveState,SubState,LoadState"


class Target:
    """The unit, pidfile or PID to check; remembers what the last poll learnt.

    The unit state and main PID of the most recent poll are reported even when
    it failed, so that a timeout still says what the unit was doing.
    """

    def __init__(self, module: AnsibleModule, unit: str | None, pidfile: str | None, pid: int | None) -> None:
        self.module = module
        self.unit = unit
        self.pidfile = pidfile
        self.pid = pid
        # How messages name the target (see describe_target).
        if unit:
            self.kind, self.name = "unit", unit
        elif pidfile:
            self.kind, self.name = "pidfile", pidfile
        else:
            self.kind, self.name = "pid", pid
        self.systemctl = module.get_bin_path("systemctl", required=True) if unit else ""
        self.unit_state: UnitState | None = None
        self.main_pid = 0

    def read(self) -> Snapshot:
        if self.unit:
            self.unit_state = self.show_unit(self.unit)
            self.main_pid = 0
            main_pid = check_unit_state(self.unit_state)
        elif self.pidfile:
            main_pid = read_pidfile(self.pidfile)
        else:
            main_pid = self.pid
        self.main_pid = main_pid
        try:
            return find_workers(PROC_ROOT, main_pid)
        except NotReady as e:
            if self.pid is not None:
                # A fixed PID that is gone will not come back: no point waiting.
                raise Fatal(str(e))
            raise

    def show_unit(self, unit: str) -> UnitState:
        cmd = [self.systemctl, "show", "--property=" + SHOW_PROPERTIES, "--", unit]
        rc, out, err = self.module.run_command(cmd)
        if rc != 0:
            raise Fatal("systemctl show failed (rc=%d): %s" % (rc, (err or out).strip()))
        return unit_state(parse_systemctl_show(out))


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            unit=dict(type="str"),
            pid=dict(type="int"),
            pidfile=dict(type="path"),
            expected=dict(type="int"),
            timeout=dict(type="float", default=30.0),
            started_after=dict(type="float"),
            scale=dict(type="bool", default=False),
        ),
        required_if=[("scale", True, ("expected",))],
        mutually_exclusive=[("unit", "pid", "pidfile")],
        required_one_of=[("unit", "pid", "pidfile")],
        supports_check_mode=True,
    )
    params = module.params
    expected: int | None = params["expected"]
    timeout: float = params["timeout"]
    unit: str | None = normalize_unit(params["unit"]) if params["unit"] else None

    if expected is not None and expected < 1:
        module.fail_json(msg="expected must be at least 1, got %d" % expected)
    if timeout < 0:
        module.fail_json(msg="timeout must be 0 (check once) or more seconds, got %s" % timeout)
    if params["pid"] is not None and params["pid"] < 1:
        module.fail_json(msg="pid must be a positive integer, got %d" % params["pid"])

    target = Target(module, unit, params["pidfile"], params["pid"])

    # The worker count before scaling; set as soon as scaling is decided, so that
    # a failure half-way still reports changed.
    scaled_from: int | None = None
    try:
        before = scaling_start(target.read, expected, timeout) if params["scale"] else None
        if before is not None:
            scaled_from = before.worker_count
        if before is not None and module.check_mode:
            # Nothing is signalled: report the workers as they are.
            outcome = WaitResult(True, before, None, 0.0)
        else:
            if before is not None:
                scale(target.read, before, expected, timeout)
            outcome = wait_for_workers(target.read, expected, timeout, settle=SETTLE_SECONDS,
                                       interval=POLL_INTERVAL, started_after=params["started_after"])
    except Fatal as e:
        module.fail_json(msg="%s: %s" % (describe_target(target.kind, target.name), e),
                         **module_result(target, expected, None, 0.0, scaled_from))

    result = module_result(target, expected, outcome.snapshot, outcome.waited, scaled_from)
    if not outcome.ok:
        # Without expected this only happens when there was no main process to report on.
        module.fail_json(msg=failure_message(target.kind, target.name, expected or 0, outcome.snapshot, outcome.error,
                                             outcome.waited, timeout, params["started_after"]), **result)
    module.exit_json(**result)


def scaling_start(read: Reader, expected: int, timeout: float) -> Snapshot | None:
    """The snapshot to scale from, None when it already runs ``expected``; Fatal when it cannot scale."""
    first = wait_for_workers(read, None, timeout, settle=SETTLE_SECONDS, interval=POLL_INTERVAL)
    snap = first.snapshot
    if snap is None:
        raise Fatal("cannot scale: %s" % (first.error or "no main process"))
    if scale_signal(snap.worker_count, expected) is None:
        return None
    if not snap.supervised:
        raise Fatal("cannot scale to %d workers: this Uvicorn runs a single process (no --workers of 2 or more), "
                    "so it has no supervisor to signal; restart it with --workers %d" % (expected, expected))
    return snap


def scale(read: Reader, before: Snapshot, expected: int, timeout: float) -> None:
    """Signal the supervisor until ``expected`` workers run; Fatal when it does not follow."""

    def send(pid: int, sig: str) -> None:
        os.kill(pid, getattr(signal, sig))

    outcome = scale_workers(before, read, send, expected, timeout, settle=SETTLE_SECONDS, interval=POLL_INTERVAL)
    if not outcome.ok:
        found = outcome.snapshot.worker_count if outcome.snapshot else "no"
        raise Fatal("scaling from %d to %d workers stopped at %s workers (steps: %s): %s" % (
            before.worker_count, expected, found, outcome.counts,
            outcome.error or "a signal had no effect within %s s" % timeout))


def module_result(target: Target, expected: int | None, snap: Snapshot | None, waited: float,
                  scaled_from: int | None) -> dict[str, t.Any]:
    """The documented return values (see RETURN); without a snapshot, what the last poll learnt."""
    state = target.unit_state
    return dict(
        changed=scaled_from is not None,
        unit=target.unit,
        expected=expected,
        main_pid=snap.main_pid if snap else target.main_pid,
        worker_pids=snap.worker_pids if snap else [],
        worker_count=snap.worker_count if snap else 0,
        workers=[worker_result(w) for w in snap.workers] if snap else [],
        active_state=state.active_state if state else None,
        sub_state=state.sub_state if state else None,
        waited=round(waited, 2),
        scaled_from=scaled_from,
        supervised=snap.supervised if snap else False,
    )


def worker_result(worker: Worker) -> dict[str, t.Any]:
    return dict(pid=worker.pid, rss_bytes=worker.rss_bytes, started_at=worker.started_at,
                started_epoch=worker.started_epoch, cmdline=worker.cmdline)


if __name__ == "__main__":
    main()
