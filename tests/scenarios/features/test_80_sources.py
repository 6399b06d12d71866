"""Projects as their authors declare them, each deployed as an app of its own beside the
scenario's app, with the deploy playbook: a pyproject.toml-only project (from a directory that
also holds .git, .venv, .env, which stay out of the release), a uv.lock project, a requirements
file with hashes (and a tampered one that must not install), a real app from PyPI that nobody here
wrote, and an unpinned requirement that becomes a new release when the index has a newer version;
last, a git ref that does not exist, which must fail before any change.

The projects (tests/scenarios/features/projects/) answer every path but /health with the version
of their one dependency, as the running app imports it.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tomllib
import zipfile
from pathlib import Path

from conftest import (PROJECT, assert_bad_input_changes_nothing, changed_tasks, curl, play_failures, row, run_deploy,
                      site_cacert)

PROJECTS = Path(__file__).parent / "projects"
# What the scenario's app turns on and an extra app must not repeat: its static directory, its
# pre-start step, the host-wide health port.
PLAIN = {"app_pre_start_commands": [], "proxy_static_locations": [], "proxy_limit_req": [], "proxy_lb_health_port": 0,
         "proxy_stub_status_path": "", "service_prometheus_multiproc": False, "service_workers": 1,
         "service_app": "main:app"}
# The local index of the unpinned-requirement check: the same folder on the controller (where the
# requirement is resolved) and on the host (where pip installs it).
WHEELS = "/tmp/asgi-uvicorn-features-wheels"
FIXTURE = "asgi-uvicorn-fixture"
FIXTURE_MODULE = '''async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"%s": "%s"}'})
'''


def deploy(name: str, **extra) -> dict:
    """Deploy app `name` (site name.example.test) beside the scenario's app; the JSON report."""
    proc = run_deploy({"app_name": name, "server_name": f"{name}.example.test", **PLAIN, **extra}, as_json=True)
    report = json.loads(proc.stdout) if proc.stdout.startswith("{") else {}
    report["rc"] = proc.returncode
    report["tail"] = proc.stdout[-3000:] + proc.stderr[-2000:]
    return report


def deployed(report: dict) -> dict:
    assert report["rc"] == 0, play_failures(report) if "plays" in report else report["tail"]
    return report


def served(host, address, name: str, tmp_path) -> dict:
    """What the app answers on / through nginx, as JSON."""
    answer = curl(address, f"{name}.example.test", "/", site_cacert(host, name, tmp_path))
    assert answer.status == 200, (answer.status, answer.body, answer.error)
    return json.loads(answer.body)


def release(host, name: str) -> str:
    return Path(host.file(f"/srv/{name}/current").linked_to).name


def test_a_pyproject_project_gets_its_dependency_and_no_local_files(host, address, tmp_path, figures):
    source = tmp_path / "pyproj"
    shutil.copytree(PROJECTS / "pyproject", source)
    for junk, content in {".git/config": "[core]\n", ".venv/bin/python": "#!/bin/sh\n", ".env": "SECRET=local\n",
                          "node_modules/left-pad/index.js": "1\n", "data/local.sqlite3": "db\n", "data/keep.txt": "kept\n",
                          "__pycache__/main.cpython-311.pyc": "pyc\n"}.items():
        (source / junk).parent.mkdir(parents=True, exist_ok=True)
        (source / junk).write_text(content)
    deployed(deploy("pyproj", app_source=str(source), app_source_exclude=["*.sqlite3"]))

    version = served(host, address, "pyproj", tmp_path)["itsdangerous"]
    assert int(version.split(".")[0]) >= 2, version
    listing = host.check_output("cd /srv/pyproj/current/app && find . -path ./build -prune -o -print | sort").split()
    figures.append(row("pyproject.toml project: itsdangerous installed; files in the release", f"{version}; {listing}"))
    for kept in ("./main.py", "./pyproject.toml", "./data/keep.txt"):
        assert kept in listing, listing
    for left_out in ("./.git", "./.venv", "./.env", "./node_modules", "./data/local.sqlite3", "./__pycache__"):
        assert left_out not in listing, listing


def test_a_uv_lock_installs_the_locked_version(host, address, tmp_path, figures):
    lock = tomllib.loads((PROJECTS / "uvlock" / "uv.lock").read_text())
    (locked,) = [p["version"] for p in lock["package"] if p["name"] == "itsdangerous"]
    source = tmp_path / "uvlock"
    shutil.copytree(PROJECTS / "uvlock", source)
    deployed(deploy("uvlock", app_source=str(source)))
    version = served(host, address, "uvlock", tmp_path)["itsdangerous"]
    assert version == locked  # pyproject.toml alone would allow the newest

    # New code, the same lock: a new release on the same virtualenv.
    first = (release(host, "uvlock"), host.file("/srv/uvlock/current/venv").linked_to)
    (source / "main.py").write_text((source / "main.py").read_text() + "# changed\n")
    deployed(deploy("uvlock", app_source=str(source)))
    second = (release(host, "uvlock"), host.file("/srv/uvlock/current/venv").linked_to)
    figures.append(row("uv.lock project: itsdangerous locked / installed; code change: release, venv",
                       f"{locked} / {version}; {first[0]} -> {second[0]}, {Path(first[1]).name} -> {Path(second[1]).name}"))
    assert second[0] != first[0] and second[1] == first[1]


def test_hashed_requirements_install_only_what_the_hashes_match(host, address, tmp_path, figures):
    tampered = tmp_path / "hashbad"
    shutil.copytree(PROJECTS / "hashed", tampered)
    requirements = tampered / "requirements.txt"
    requirements.write_text(requirements.read_text().replace("sha256:5174", "sha256:0000").replace("sha256:9e72", "sha256:0000"))
    bad = deploy("hashbad", app_source=str(tampered))
    assert bad["rc"] != 0, bad["tail"]
    assert not host.file("/srv/hashbad/current").exists

    deployed(deploy("hashed", app_source=str(PROJECTS / "hashed")))
    version = served(host, address, "hashed", tmp_path)["itsdangerous"]
    figures.append(row("hashed requirements: tampered hash / good hashes", f"deploy failed / {version} installed"))
    assert version == "2.0.1"


def test_a_real_app_from_pypi_runs_as_a_factory(host, address, tmp_path, figures):
    """prometheus_client's make_asgi_app: an ASGI app factory that nobody here wrote."""
    deployed(deploy("promapp", app_source_type="pypi", app_source="prometheus-client==0.21.1",
                    service_app="prometheus_client:make_asgi_app", service_extra_args=["--factory"]))
    answer = curl(address, "promapp.example.test", "/", site_cacert(host, "promapp", tmp_path))
    figures.append(row("prometheus-client 0.21.1 from PyPI through nginx", f"{answer.status}, {len(answer.body)} bytes"))
    assert answer.status == 200 and "# TYPE python_info gauge" in answer.body, (answer.status, answer.body[:500])


def wheel(version: str) -> tuple[str, bytes]:
    """A pure-Python wheel of the fixture app at `version`: (file name, content)."""
    module = FIXTURE.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {f"{module}.py": FIXTURE_MODULE % (FIXTURE, version),
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {FIXTURE}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: asgi-uvicorn-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for path, text in files.items()]
    files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return f"{module}-{version}-py3-none-any.whl", buffer.getvalue()


def publish(host, version: str) -> None:
    """Drop the fixture's wheel at `version` into the local index, on the controller and the host."""
    name, content = wheel(version)
    Path(WHEELS).mkdir(exist_ok=True)
    (Path(WHEELS) / name).write_bytes(content)
    encoded = base64.b64encode(content).decode()
    host.check_output(f"mkdir -p {WHEELS} && echo {encoded} | base64 -d > {WHEELS}/{name}")


def test_an_unpinned_requirement_gets_a_new_release_for_a_new_version(host, address, tmp_path, figures):
    shutil.rmtree(WHEELS, ignore_errors=True)
    host.check_output(f"rm -rf {WHEELS}")
    publish(host, "1.0")
    extra = {"app_source_type": "pypi", "app_source": FIXTURE, "service_app": "asgi_uvicorn_fixture:app",
             "app_pip_extra_args": ["--find-links", WHEELS]}
    deployed(deploy("unpinned", **extra))
    first = release(host, "unpinned")
    assert served(host, address, "unpinned", tmp_path) == {FIXTURE: "1.0"}
    deployed(deploy("unpinned", **extra))
    assert release(host, "unpinned") == first  # the same version resolved: the same release

    publish(host, "1.1")
    report = deployed(deploy("unpinned", **extra))
    second = release(host, "unpinned")
    said = [result.get("msg", "") for play in report["plays"] for task in play["tasks"]
            for result in task["hosts"].values() if task["task"]["name"].endswith(" : Say which version the requirement resolved to")]
    figures.append(row("unpinned requirement, index 1.0 then 1.1: release, served version",
                       f"{first} -> {second}, {served(host, address, 'unpinned', tmp_path)}"))
    assert second != first
    assert served(host, address, "unpinned", tmp_path) == {FIXTURE: "1.1"}
    assert said == [f"app_source '{FIXTURE}' resolves to {FIXTURE}==1.1"], said
    assert changed_tasks(report) != {host_name: [] for host_name in report["stats"]}


def test_a_git_ref_that_does_not_exist_changes_nothing(host, app_name):
    """Looked up on the controller before the first change (this checkout is the repository): no
    user, no layout, no env file of the app, where the fetch on the host came after all three."""
    assert_bad_input_changes_nothing(host, app_name, {"app_source_type": "git", "app_source": str(PROJECT),
                                                      "app_source_version": "no-such-ref"}, "app_source_version")
