"""Fixtures and helpers for the default scenario's checks (shared code: tests/helpers/scenario.py)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))

from scenario import (  # noqa: E402,F401  (fixtures are found by name in conftest)
    PROJECT,
    Answer,
    address,
    app_name,
    cacert,
    client_address,
    curl,
    https,
    ps_children,
    run_deploy,
    run_workers_module,
    server_name,
    site_cacert,
)
