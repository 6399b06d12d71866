"""The marker of the bad-input cases that only the first leg of `make test` runs."""
from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "first_leg_only: a bad-input case whose rule the second leg (Python 3.12, the newest "
        "ansible-core) checks through the good cases and one bad case of the same role")
