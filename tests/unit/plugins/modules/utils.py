# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The harness every module test shares: module arguments in, exit_json or fail_json out."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Callable

import pytest

from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


@contextlib.contextmanager
def module_args(args: dict):
    """Feed module args to AnsibleModule (ansible-core >= 2.19 and older)."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core < 2.19
        patch_module_args = None
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    from ansible.module_utils.common.text.converters import to_bytes
    old = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = old


def patch_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make exit_json and fail_json raise, so a test reads what the module returned."""
    def exit_json(self, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise FailJson(kwargs)

    monkeypatch.setattr(AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(AnsibleModule, "fail_json", fail_json)


def run_main(main: Callable[[], None], args: dict, expect: type = ExitJson) -> dict[str, Any]:
    """Run a module's main() with args; return its result, failing unless it ended as expected."""
    with module_args(args):
        with pytest.raises((ExitJson, FailJson)) as e:
            main()
    assert isinstance(e.value, expect), e.value.args[0]
    return e.value.args[0]
