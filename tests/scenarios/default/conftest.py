"""The default scenario's fixtures and helpers: most shared, in tests/lib/scenario.py, and the
second app that test_15_security and test_50_env share."""
from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from scenario import *  # noqa: E402,F401,F403  (pytest finds fixtures by name in conftest)

SECOND = {"app_name": "second", "server_name": "second.example.test"}
SECOND_SHARED = f"/srv/{SECOND['app_name']}/shared"
# Where the second app's pre-start step writes the environment it was given.
SECOND_PRE_START_DUMP = f"{SECOND_SHARED}/pre-start-env.json"
SECRET = "asgi-secret-" + secrets.token_hex(8)


def env_values(shared: str) -> dict[str, str]:
    """One variable for each kind of character a shell or an env-file parser treats specially."""
    return {
        # First in the file (it is sorted): a shell that reads the file runs this before any
        # later value can stop it with a syntax error.
        "ASGI_A_BACKTICKS": f"a`touch {shared}/pwned-backtick`b",
        "ASGI_T_DOUBLE_QUOTES": 'say "hi" ""',
        "ASGI_T_SINGLE_QUOTES": "it's 'quoted' '",
        "ASGI_T_BACKSLASHES": 'a\\b \\" \\\\ \\n \\$ end\\',
        "ASGI_T_DOLLAR": f"$HOME ${{HOME}} $(touch {shared}/pwned-dollar) $$ $",
        "ASGI_T_LONE_BACKTICK": "a ` b",
        "ASGI_T_HASH": "# not a comment #",
        "ASGI_T_SPACES": "  at both ends  ",
        "ASGI_T_EQUALS": "a=b==c=",
        "ASGI_T_SEMICOLON": f"x; touch {shared}/pwned-semicolon; y && z | w",
        "ASGI_T_PERCENT": "%h %n %% %",
        "ASGI_T_NON_ASCII": "ünïcödé € 日本語 🚀",
        "ASGI_T_EMPTY": "",
        "ASGI_T_SECRET": SECRET,
    }


def second_app_vars(client_address: str) -> dict:
    """The second app's deploy: run again with these, it changes nothing."""
    return {
        **SECOND, "workers": 2, "proxy_trusted_proxies": [client_address],
        # A string, as `-e proxy_hsts=false` gives it: read as the boolean it says.
        "proxy_hsts": "false",
        "app_env": env_values(SECOND_SHARED),
        "app_pre_start_commands": [
            f"python3 -c 'import json, os; json.dump(dict(os.environ), open(\"{SECOND_PRE_START_DUMP}\", \"w\"))'",
        ],
    }


# The deploy of the second app, made once for the test modules that use it (a module-scoped
# fixture, as it needs testinfra's module-scoped host, would deploy it once per module).
_second_deploy: dict[str, subprocess.CompletedProcess] = {}


@pytest.fixture(scope="module")
def second_app(host, client_address, tmp_path_factory) -> dict:
    """A second app on the same host, behind the controller as its trusted proxy, without HSTS,
    with an app_env of awkward values and a pre-start step that dumps the environment it gets. Returns
    its certificate ("cacert"), the values ("env") and the deploy's output ("proc", with --diff)."""
    if "proc" not in _second_deploy:
        _second_deploy["proc"] = run_deploy(second_app_vars(client_address), diff=True)
    proc = _second_deploy["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return {"cacert": site_cacert(host, SECOND["app_name"], tmp_path_factory.mktemp("second")),
            "env": env_values(SECOND_SHARED), "proc": proc}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "first_leg_only: the same code path on every OS and ansible-core line (the certificate's "
        "renewal, a deploy putting back what was changed by hand); the second leg of `make test` (test-py312) skips it to stay within its time")
