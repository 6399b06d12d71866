#!/usr/bin/env python3
"""Check the links of the docs, offline.

    tools/docs-links.py              the Markdown pages of the repository (`make docs-links`)
    tools/docs-links.py --site DIR   and the built docs site in DIR (`make docs-site`)

Markdown pages (README.md, CONTRIBUTING.md, SECURITY.md, CODE_OF_CONDUCT.md, docs/*.md and
the roles' README.md): a relative link must name a file or directory of the repository (not
outside it, not one git ignores), and a `#anchor` a heading of the Markdown page it points to.

The site: every relative `href` and `src` of every HTML page must name a page or file of the
site, and its `#anchor` an `id` in that page; a link to this repository on GitHub
(github.com/asgi-uvicorn/asgi.uvicorn/blob|tree|raw/main/PATH) must name a file of the
checkout. Other external links are listed by host, not fetched: this machine reaches only the
package registries, so whether they answer is not checked here.
Runs with the Python of .venv-tools (markdown-it-py).
"""
from __future__ import annotations

import argparse
import html.parser
import posixpath
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

ROOT = Path(__file__).resolve().parent.parent
REPO_URL = "https://github.com/asgi-uvicorn/asgi.uvicorn"
BRANCH = "main"
PAGES = ["README.md", "CONTRIBUTING.md", "SECURITY.md", "CODE_OF_CONDUCT.md", "docs/*.md", "roles/*/README.md"]


def slug(text: str) -> str:
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def plain(node: SyntaxTreeNode) -> str:
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(plain(c) for c in node.children)


def parse(path: Path) -> SyntaxTreeNode:
    return SyntaxTreeNode(MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8")))


def anchors(tree: SyntaxTreeNode) -> set[str]:
    """GitHub's anchors of a Markdown page's headings (a repeated one gets -1, -2...)."""
    found: set[str] = set()
    seen: Counter[str] = Counter()
    for node in tree.walk():
        if node.type == "heading":
            base = slug(plain(node.children[0]))
            found.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
            seen[base] += 1
    return found


def repo_files() -> set[str]:
    """What the repository has: tracked files and files git would add (not ignored ones)."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout.split("\n")
    files = {f for f in out if f and (ROOT / f).exists()}
    dirs = {posixpath.dirname(f) for f in files}
    for d in list(dirs):
        while d:
            dirs.add(d)
            d = posixpath.dirname(d)
    return files | dirs


def check_markdown(errors: list[str]) -> int:
    have = repo_files()
    pages = sorted({p for pattern in PAGES for p in ROOT.glob(pattern)})
    cache: dict[Path, set[str]] = {}
    count = 0
    for page in pages:
        rel_page = page.relative_to(ROOT).as_posix()
        tree = parse(page)
        cache.setdefault(page, anchors(tree))
        for node in tree.walk():
            if node.type not in ("link", "image"):
                continue
            href = node.attrs.get("href") or node.attrs.get("src")
            line = node.map[0] + 1 if node.map else "?"
            if node.map is None:  # inline nodes have no map: take the block's
                parent = node.parent
                while parent is not None and parent.map is None:
                    parent = parent.parent
                line = parent.map[0] + 1 if parent is not None and parent.map else "?"
            where = f"{rel_page}:{line}"
            if re.match(r"^[a-z][a-z0-9+.-]*:", href):
                continue  # external: not reachable from here
            count += 1
            path, _, anchor = href.partition("#")
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel_page), unquote(path))) if path else rel_page
            if target.startswith("../") or target == "..":
                errors.append(f"{where}: {href} is outside the repository")
                continue
            if target not in have:
                errors.append(f"{where}: {href}: no such file in the repository ({target})")
                continue
            if anchor:
                if not target.endswith(".md"):
                    errors.append(f"{where}: {href}: an anchor in a file that is not Markdown")
                    continue
                tpath = ROOT / target
                if tpath not in cache:
                    cache[tpath] = anchors(parse(tpath))
                if anchor not in cache[tpath]:
                    errors.append(f"{where}: {href}: {target} has no heading #{anchor}")
    return count


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            if value and ((name == "href" and tag in ("a", "link")) or (name == "src" and tag in ("img", "script"))):
                self.links.append(value)


def check_site(site: Path, errors: list[str]) -> tuple[int, int, Counter[str]]:
    have = repo_files()
    pages: dict[Path, _Page] = {}
    for path in sorted(site.rglob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path.resolve()] = page
    internal = repo = 0
    external: Counter[str] = Counter()
    for path, page in pages.items():
        rel_page = path.relative_to(site.resolve()).as_posix()
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                prefix = f"{REPO_URL}/"
                if link.startswith(prefix):
                    m = re.match(r"^(?:blob|tree|raw|edit)/" + re.escape(BRANCH) + r"/([^#?]*)", link[len(prefix):])
                    if m:
                        repo += 1
                        target = unquote(m.group(1)).rstrip("/")
                        if target and target not in have:
                            errors.append(f"site {rel_page}: {link}: no such file in the repository ({target})")
                        continue
                external[parts.netloc] += 1
                continue
            if parts.scheme in ("mailto",) or link.startswith("data:") or link.startswith("javascript:"):
                continue
            if parts.scheme:
                errors.append(f"site {rel_page}: {link}: unexpected link")
                continue
            internal += 1
            if not parts.path:
                target = path
            elif parts.path.startswith("/"):  # the site served at the server's root
                target = (site / unquote(parts.path).lstrip("/")).resolve()
            else:
                target = (path.parent / unquote(parts.path)).resolve()
            if not target.exists():
                errors.append(f"site {rel_page}: {link}: no such page or file in the site")
                continue
            if target.is_dir():
                target = target / "index.html"
            if parts.fragment and target.suffix == ".html":
                if target not in pages:
                    errors.append(f"site {rel_page}: {link}: not a page of the site")
                elif unquote(parts.fragment) not in pages[target].ids:
                    errors.append(f"site {rel_page}: {link}: no #{parts.fragment} in {target.name}")
    return internal, repo, external


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, help="the built docs site (build/html) to check too")
    args = parser.parse_args()
    errors: list[str] = []
    count = check_markdown(errors)
    summary = f"docs-links: {count} relative links of the Markdown pages"
    if args.site:
        if not (args.site / "index.html").is_file():
            print(f"docs-links: ERROR: no {args.site}/index.html: build the site first", file=sys.stderr)
            return 1
        internal, repo, external = check_site(args.site, errors)
        hosts = ", ".join(f"{host} {n}" for host, n in external.most_common())
        summary += (f"; site: {internal} links within the site, {repo} to files of the repository on "
                    f"GitHub; {sum(external.values())} external links not checked (offline): {hosts}")
    for error in errors:
        print(f"docs-links: ERROR: {error}", file=sys.stderr)
    if errors:
        print(f"docs-links: {len(errors)} broken link(s)", file=sys.stderr)
        return 1
    print(summary + ": all resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
