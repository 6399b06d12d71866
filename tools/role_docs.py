# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate README.md's table of role variables from roles/*/meta/argument_specs.yml.

    python tools/role_docs.py          # rewrite the table in README.md (make docs)
    python tools/role_docs.py --check  # exit 1 when README.md is stale (make docs-check)

The table sits between the marker comments BEGIN/END role variables in README.md. It lists
every option of each role's ``main`` entry point (role, variable, type, default, description);
an option that only another entry point declares is listed too, marked with that entry point.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
BEGIN = "<!-- BEGIN role variables -->"
END = "<!-- END role variables -->"
NOTE = "<!-- generated from roles/*/meta/argument_specs.yml by tools/role_docs.py: run `make docs` -->"


def markup(text: str) -> str:
    """Ansible documentation markup (C(), O(), V(), I(), B(), U(), L(), M(), P(), ...) to Markdown."""
    text = re.sub(r"L\(([^)]*?),\s*([^)]*?)\)", r"[\1](\2)", text)
    text = re.sub(r"U\(([^)]*)\)", r"[\1](\1)", text)
    text = re.sub(r"I\(([^)]*)\)", r"*\1*", text)
    text = re.sub(r"B\(([^)]*)\)", r"**\1**", text)
    text = re.sub(r"P\(([^)#]*)#[^)]*\)", r"`\1`", text)
    text = re.sub(r"\b(?:C|O|V|E|RV|M|P)\(([^)]*)\)", r"`\1`", text)
    text = text.replace("HORIZONTALLINE", "")
    return text


def cell(text: str) -> str:
    """One Markdown table cell: a single line, pipes escaped, and < > outside code spans too."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def fmt_default(value) -> str:
    if isinstance(value, str):
        return "`%s`" % value if value else '`""`'
    return "`%s`" % json.dumps(value)


def fmt_type(spec: dict) -> str:
    typ = spec.get("type", "str")
    if typ == "list" and spec.get("elements"):
        typ = "list of %s" % spec["elements"]
    return typ


def describe(spec: dict, entry_point: str | None) -> str:
    desc = spec.get("description", "")
    if isinstance(desc, list):
        desc = " ".join(str(d) for d in desc)
    parts = [markup(str(desc))]
    if spec.get("choices"):
        parts.append("Choices: %s." % ", ".join(fmt_default(c) for c in spec["choices"]))
    if entry_point:
        parts.insert(0, "(Entry point `%s` only.)" % entry_point)
    return cell(" ".join(p for p in parts if p))


def rows_for(role_dir: str) -> list[str]:
    role = os.path.basename(role_dir)
    with open(os.path.join(role_dir, "meta", "argument_specs.yml"), encoding="utf-8") as f:
        specs = (yaml.safe_load(f) or {}).get("argument_specs") or {}
    seen: dict[str, tuple[dict, str | None]] = {}
    for name, spec in ((specs.get("main") or {}).get("options") or {}).items():
        seen[name] = (spec or {}, None)
    for entry_point in sorted(specs):
        if entry_point == "main":
            continue
        for name, spec in ((specs[entry_point] or {}).get("options") or {}).items():
            seen.setdefault(name, (spec or {}, entry_point))
    rows = []
    for name, (spec, entry_point) in seen.items():
        if "default" in spec:
            default = fmt_default(spec["default"])
        elif spec.get("required"):
            default = "required"
        else:
            default = ""
        rows.append("| `%s` | `%s` | %s | %s | %s |" % (
            "asgi.uvicorn." + role, name, cell(fmt_type(spec)), cell(default), describe(spec, entry_point)))
    return rows


def table() -> str:
    lines = [NOTE, "",
             "| Role | Variable | Type | Default | Description |",
             "|------|----------|------|---------|-------------|"]
    for role_dir in sorted(glob.glob(os.path.join(ROOT, "roles", "*"))):
        if os.path.isfile(os.path.join(role_dir, "meta", "argument_specs.yml")):
            lines.extend(rows_for(role_dir))
    return "\n".join(lines) + "\n"


def render(readme: str) -> str:
    start = readme.find(BEGIN)
    end = readme.find(END)
    if start < 0 or end < start:
        raise SystemExit("role_docs: README.md has no '%s' ... '%s' block" % (BEGIN, END))
    return readme[:start + len(BEGIN)] + "\n" + table() + readme[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when README.md is not up to date")
    args = parser.parse_args()
    with open(README, encoding="utf-8") as f:
        current = f.read()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print("role_docs: README.md's role variable table is stale (roles/*/meta/argument_specs.yml "
                  "changed): run 'make docs' and commit README.md", file=sys.stderr)
            return 1
        print("role_docs: README.md's role variable table is up to date")
        return 0
    if wanted != current:
        with open(README, "w", encoding="utf-8") as f:
            f.write(wanted)
        print("role_docs: updated the role variable table in README.md")
    else:
        print("role_docs: README.md already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
