"""The operations scenario's own fixtures (a background load, the figures table); the shared
ones come from tests/lib/scenario.py."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)
from scenario import figures_table, load_table, load_through_nginx  # noqa: E402



@pytest.fixture(scope="session")
def figures():
    """Rows of the figures table; printed (and written to .cache/operations/) at the end."""
    with figures_table("operations", "Operations under load (molecule test -s operations)", load_table) as rows:
        yield rows


@pytest.fixture
def load(server_name, address, cacert):
    """``with load() as result:`` keeps GET /pid going through nginx (HTTPS, verified) at a
    steady rate while the block runs; ``result`` holds the load client's JSON report after it."""
    return functools.partial(load_through_nginx, server_name, address, cacert)
