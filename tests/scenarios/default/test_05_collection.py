"""The collection these checks deploy: the checkout, or on the py312 leg of `make test` the
tarball that `ansible-galaxy collection build` made, as installed (ASGI_COLLECTIONS_PATH_FIRST).
Every playbook here runs by its FQCN, so whichever asgi.uvicorn Ansible finds first is tested."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import PROJECT


def test_the_collection_under_test_is_the_one_asked_for():
    first = os.environ.get("ASGI_COLLECTIONS_PATH_FIRST", "").rstrip(":")
    expected = Path(first) if first else PROJECT / ".cache" / "collections"
    proc = subprocess.run(["ansible-galaxy", "collection", "list", "asgi.uvicorn", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = [path for path, collections in json.loads(proc.stdout).items() if "asgi.uvicorn" in collections]
    assert found and Path(found[0]).resolve() == (expected / "ansible_collections").resolve(), \
        f"asgi.uvicorn found first in {found}"
    installed = expected / "ansible_collections" / "asgi" / "uvicorn"
    if first:
        # An installed tarball: a MANIFEST.json of its own and no tests/ (build_ignore), not the checkout.
        assert (installed / "MANIFEST.json").is_file() and not (installed / "tests").exists()
        print(f"deployed from the installed tarball: {installed}")
    else:
        assert installed.resolve() == PROJECT.resolve()
