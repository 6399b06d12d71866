"""The default scenario's fixtures and helpers: all shared, in tests/lib/scenario.py."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "first_leg_only: the same code path on every OS and ansible-core line (the certificate's "
        "renewal); the second leg of `make test` (test-py312) skips it to stay within its time")
