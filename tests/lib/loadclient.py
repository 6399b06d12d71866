#!/usr/bin/env python3
"""A bounded HTTP(S) load client for the scenarios: steady keep-alive load, then a JSON report.

    loadclient.py --url https://sample.test/pid --connect-to 172.17.0.2 --cacert ca.pem \
        --rate 200 --concurrency 8 --duration 60 --output load.json

Bounded three ways: --duration seconds (at most 600), --max-requests (at most 1,000,000), and the
target, which must be a loopback or private address (the local test host), never the internet.
SIGINT or SIGTERM stops it early; the report is still written. A request fails when it gets no
response or a status other than 200; each failure is counted by kind (status or exception).
With --retry-reused, a GET whose reused keep-alive connection the server closed without answering
is sent once more on a new connection, as HTTP clients do; the report counts those retries.
With --progress FILE it keeps the count of answered requests in FILE while it runs (a caller
waits on it), and with --record the report lists every request's start and end (time.monotonic,
the clock of every process on this kernel, containers included) and whether it failed.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import typing as t
import urllib.parse

MAX_DURATION = 600.0
# How a reused keep-alive connection looks when the server closed it just as a request went out.
IDLE_CLOSE = {"RemoteDisconnected", "ConnectionResetError", "BrokenPipeError"}
MAX_REQUESTS = 1_000_000


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and certificate check for the URL's host name."""

    def __init__(self, server_name: str, address: str, port: int, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(server_name, port, context=context, timeout=timeout)
        self._address = address
        self._context = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, server_name: str, address: str, port: int, timeout: float) -> None:
        super().__init__(server_name, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def check_target(address: str) -> None:
    """Refuse anything but a loopback or private address: this is a test tool, not a load generator."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise SystemExit("loadclient: --connect-to must be an IP address, got %r" % address)
    if not (ip.is_loopback or ip.is_private):
        raise SystemExit("loadclient: refusing %s: only loopback or private (test host) addresses" % address)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, int(round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        url = urllib.parse.urlsplit(args.url)
        self.scheme = url.scheme
        self.server_name = url.hostname or ""
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.path = (url.path or "/") + ("?" + url.query if url.query else "")
        self.address = args.connect_to or self.server_name
        self.context = None
        if self.scheme == "https":
            self.context = ssl.create_default_context(cafile=args.cacert)
            if args.insecure:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.failures: dict[str, int] = {}
        self.failure_times: list[float] = []
        self.failure_samples: list[str] = []
        self.issued = 0
        self.answered = 0
        self.retried_reused = 0
        self.requests: list[tuple[float, float, bool]] = []
        self.start = 0.0

    def connection(self) -> http.client.HTTPConnection:
        if self.context is not None:
            return PinnedHTTPSConnection(self.server_name, self.address, self.port, self.context, self.args.timeout)
        return PinnedHTTPConnection(self.server_name, self.address, self.port, self.args.timeout)

    def take_ticket(self) -> float | None:
        """The time this request may start (rate limit), or None when the budget is spent."""
        with self.lock:
            if self.issued >= self.args.max_requests:
                return None
            slot = self.start + self.issued / self.args.rate if self.args.rate > 0 else 0.0
            self.issued += 1
            return slot

    def worker(self) -> None:
        conn = None
        while not self.stop.is_set():
            slot = self.take_ticket()
            if slot is None:
                self.stop.set()
                break
            delay = slot - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            began = time.monotonic()
            failure = None
            detail = ""
            reused = conn is not None
            try:
                if conn is None:
                    conn = self.connection()
                conn.request("GET", self.path, headers={"Host": self.server_name})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failure = str(response.status)
                    detail = response.reason
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                failure = type(e).__name__
                detail = "%s (%s connection)" % (e, "reused" if reused else "new")
                if conn is not None:
                    conn.close()
                conn = None
            if failure is not None and reused and self.args.retry_reused and failure in IDLE_CLOSE:
                # The server closed the idle keep-alive connection as the request went out, and
                # nothing came back: browsers, curl and Go send such a GET again on a new
                # connection (RFC 9112, 9.3.1). Counted apart, and failed if the retry fails too.
                with self.lock:
                    self.retried_reused += 1
                try:
                    conn = self.connection()
                    conn.request("GET", self.path, headers={"Host": self.server_name})
                    response = conn.getresponse()
                    response.read()
                    failure = None if response.status == 200 else str(response.status)
                    detail = "" if failure is None else response.reason
                    if response.will_close:
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as e:
                    failure = type(e).__name__
                    detail = "%s (retry on a new connection)" % e
                    if conn is not None:
                        conn.close()
                    conn = None
            ended = time.monotonic()
            elapsed = ended - began
            with self.lock:
                self.answered += 1
                if self.args.record:
                    self.requests.append((round(began, 4), round(ended, 4), failure is not None))
                if failure is None:
                    self.latencies.append(elapsed)
                else:
                    self.failures[failure] = self.failures.get(failure, 0) + 1
                    self.failure_times.append(round(began - self.start, 3))
                    if len(self.failure_samples) < 10:
                        self.failure_samples.append("%.3f s: %s %s" % (began - self.start, failure, detail))
        if conn is not None:
            conn.close()

    def progress(self) -> None:
        """Keep the count of answered requests in --progress, replaced whole, ten times a second."""
        path = self.args.progress
        while True:
            with open(path + ".tmp", "w") as f:
                f.write("%d\n" % self.answered)
            os.replace(path + ".tmp", path)
            if self.stop.wait(0.1):
                break

    def run(self) -> dict[str, t.Any]:
        self.start = time.monotonic()
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.args.concurrency)]
        if self.args.progress:
            threads.append(threading.Thread(target=self.progress, daemon=True))
        for thread in threads:
            thread.start()
        self.stop.wait(self.args.duration)
        self.stop.set()
        for thread in threads:
            thread.join(self.args.timeout + 1)
        return self.report(time.monotonic() - self.start)

    def report(self, duration: float) -> dict[str, t.Any]:
        with self.lock:
            latencies = sorted(self.latencies)
            failed = sum(self.failures.values())

            def ms(value: float | None) -> float | None:
                return None if value is None else round(value * 1000, 2)
            report = {
                "url": self.args.url,
                "connect_to": self.address,
                "concurrency": self.args.concurrency,
                "rate_limit": self.args.rate,
                "duration_s": round(duration, 2),
                "total": len(latencies) + failed,
                "ok": len(latencies),
                "failed": failed,
                "failures": dict(sorted(self.failures.items())),
                "failure_times_s": self.failure_times[:50],
                "failure_samples": self.failure_samples,
                "retried_reused": self.retried_reused,
                "requests_per_s": round((len(latencies) + failed) / duration, 1) if duration > 0 else None,
                "latency_ms": {
                    "p50": ms(percentile(latencies, 0.50)),
                    "p90": ms(percentile(latencies, 0.90)),
                    "p99": ms(percentile(latencies, 0.99)),
                    "max": ms(latencies[-1] if latencies else None),
                },
                "start_monotonic": round(self.start, 4),
            }
            if self.args.record:
                report["requests"] = sorted(self.requests)
            return report


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="http(s)://<server name>[:port]/path")
    parser.add_argument("--connect-to", help="IP address to connect to (default: the URL's host)")
    parser.add_argument("--cacert", help="CA file that verifies the server certificate")
    parser.add_argument("--insecure", action="store_true", help="do not verify the certificate")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second in all (0: unlimited)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds, at most %d" % MAX_DURATION)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--retry-reused", action="store_true",
                        help="send a GET again, once, on a new connection when a reused one closed without an answer")
    parser.add_argument("--output", help="write the JSON report here as well as to stdout")
    parser.add_argument("--progress", help="keep the count of answered requests in this file while running")
    parser.add_argument("--record", action="store_true",
                        help="list each request's start and end (time.monotonic) and whether it failed in the report")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION:
        parser.error("--duration must be in (0, %d]" % MAX_DURATION)
    if not 0 < args.max_requests <= MAX_REQUESTS:
        parser.error("--max-requests must be in (0, %d]" % MAX_REQUESTS)
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be 1..256")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    load = Load(args)
    check_target(load.address)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: load.stop.set())
    report = load.run()
    text = json.dumps(report, indent=2)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
