"""Every option of every role's argument spec (and of the cluster playbook's own) has a bad-input
case in test_inputs.py, or a reason here why no bad value exists: a new option cannot be added
without one. No Ansible run; the cases themselves run in test_inputs.py.

    python -m pytest tests/inputs/test_coverage.py
"""
from __future__ import annotations

from pathlib import Path

import yaml

from test_inputs import BAD, EVERY_LEG, OTHER

PROJECT = Path(__file__).resolve().parents[2]

# The short variables of the command line set these options (playbooks/tasks/check.yml,
# playbooks/maintenance.yml).
SHORT = {"workers": "service_workers", "server_name": "proxy_server_name", "app_module": "service_app",
         "state": "proxy_maintenance_state"}

# Options with no bad value beyond a wrong type, which the argument spec rejects before any rule
# (as the cases factory-not-bool and proxy_*-"maybe" show), or with no rule of the checks at all.
NO_BAD_VALUE = {
    # type: bool - anything but a boolean fails the argument spec; both values are valid.
    "app_source_check": "bool",
    "app_pre_start_enabled": "bool",
    "app_remove_keep_shared": "bool",
    "proxy_hsts": "bool",
    "proxy_hsts_include_subdomains": "bool",
    "proxy_http2": "bool",
    "release_gate_validate_certs": "bool",
    "release_gate_rollback": "bool",
    "service_env_changed": "bool, set from the app role's facts",
    "service_release_changed": "bool, set from the release role's facts",
    "service_access_log": "bool",
    "service_apply": "bool",
    "cluster_firewall": "bool",
    # Free text: each item is a bash command, run as the app's user without a shell of root's.
    "app_pre_start_commands": "free text (bash commands)",
    # Only the rollback entry point reads them, and checks them on the host against the
    # releases there (a complete release, or it fails changing nothing).
    "release_rollback_to": "checked on the host by the rollback entry point",
    "release_rollback_previous": "checked on the host by the rollback entry point",
}


def spec_options() -> dict[str, str]:
    """Every option (a suboption as parent.name) of the roles' argument specs and the cluster
    playbook's, to the file that declares it."""
    found: dict[str, str] = {}

    def walk(options: dict, where: str, prefix: str = "") -> None:
        for name, spec in options.items():
            found[prefix + name] = where
            walk(spec.get("options") or {}, where, f"{prefix}{name}.")

    for path in sorted(PROJECT.glob("roles/*/meta/argument_specs.yml")):
        for entry in yaml.safe_load(path.read_text())["argument_specs"].values():
            walk(entry.get("options") or {}, str(path.relative_to(PROJECT)))
    for play in yaml.safe_load((PROJECT / "playbooks" / "cluster.yml").read_text()):
        for task in play.get("tasks", []):
            spec = task.get("ansible.builtin.validate_argument_spec")
            if spec:
                walk(spec["argument_spec"], "playbooks/cluster.yml")
    return found


def covered() -> set[str]:
    """The options a bad-input case sets, and the suboptions it sets in a list of dicts."""
    variables = [v for _, v, _ in BAD] + [extra for _, _, extra, _, _ in OTHER]
    variables += [host for *_, groups, _ in OTHER for hosts in groups.values() for host in hosts.values()]
    names: set[str] = set()
    for case in variables:
        for name, value in case.items():
            name = SHORT.get(name, name)
            names.add(name)
            if isinstance(value, list):
                names.update(f"{name}.{key}" for item in value if isinstance(item, dict) for key in item)
    return names


def test_spec_is_read():
    # A broken walk would find nothing and pass.
    options = spec_options()
    assert {"app_name", "proxy_static_locations.dir", "balancer_servers", "cluster_port"} <= set(options)


def test_every_option_has_a_bad_input_case():
    options = spec_options()
    missing = sorted(f"{name} ({where})" for name, where in options.items()
                     if name not in covered() and name not in NO_BAD_VALUE)
    assert not missing, ("options without a bad-input case in tests/inputs/test_inputs.py (or a reason in "
                         "NO_BAD_VALUE): " + ", ".join(missing))


def test_allow_list_names_real_options():
    # An option renamed or removed leaves no stale exemption behind.
    assert not set(NO_BAD_VALUE) - set(spec_options())


def test_every_leg_names_bad_cases():
    # A renamed case would leave the second leg without its bad case for that role.
    assert EVERY_LEG <= {name for name, _, _ in BAD}
