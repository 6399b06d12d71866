"""The collection these checks deploy: the checkout, or on the py312 leg of `make test` the
tarball that `ansible-galaxy collection build` made, as installed (the Makefile's collections path).
Every playbook of the checks runs by its FQCN with scenario.ansible_env()'s collections path, so
ansible-playbook itself says which copy it runs."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import PROJECT, ansible_env


def test_the_collection_under_test_is_the_one_asked_for():
    first = Path(ansible_env()["ANSIBLE_COLLECTIONS_PATH"].split(":")[0])
    installed = first / "ansible_collections" / "asgi" / "uvicorn"
    proc = subprocess.run(["ansible-playbook", "--syntax-check", "-i", "localhost,", "asgi.uvicorn.deploy"],
                          capture_output=True, text=True, timeout=120, env=ansible_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    played = re.search(r"^playbook: (.+)$", proc.stdout, re.M)
    assert played, proc.stdout
    assert Path(played.group(1).strip()).resolve() == (installed / "playbooks" / "deploy.yml").resolve(), \
        f"asgi.uvicorn.deploy is {played.group(1)}, not that of {installed}"
    if installed.resolve() != PROJECT.resolve():
        # An installed tarball: a MANIFEST.json of its own and no tests/ (build_ignore), not the checkout.
        assert (installed / "MANIFEST.json").is_file() and not (installed / "tests").exists()
        print(f"deployed from the installed tarball: {installed}")
    else:
        assert os.environ.get("MOLECULE_SCENARIO_NAME") != "trixie", "the trixie scenario deploys the tarball"
