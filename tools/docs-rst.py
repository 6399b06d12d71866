#!/usr/bin/env python3
"""The guides of docs/*.md as reStructuredText for the docs site (`make docs-site`).

antsibull-docs puts on a collection's docs site only the reStructuredText of docs/docsite/rst/
(listed in docs/docsite/extra-docs.yml); it reads no Markdown. The guides are written in
Markdown, which GitHub and Galaxy show, so this script converts each one into
docs/docsite/rst/<name>.rst, and those files are checked in: they ship in the tarball that
docs.ansible.com and Automation Hub render.

    tools/docs-rst.py           rewrite docs/docsite/rst/ and extra-docs.yml from docs/*.md
    tools/docs-rst.py --check   fail if they are not what the guides make (`make docs-links`)

A link to another guide, or to a heading (`#anchor`), becomes a reference to the label of that
guide or heading (each heading gets one, prefixed as antsibull-docs requires); a link to any
other file of the repository becomes its URL on GitHub; a link outside the repository must
be a full URL. tools/docs-links.py checks that each of those exists.

Only the Markdown the guides use is converted: headings, paragraphs, lists, fenced code,
tables, links, images, emphasis, inline code. Anything else is an error, not a guess.
Runs with the Python of .venv-tools (markdown-it-py).
"""
from __future__ import annotations

import argparse
import posixpath
import re
import sys
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

ROOT = Path(__file__).resolve().parent.parent
GUIDES = ROOT / "docs"
RST = ROOT / "docs" / "docsite" / "rst"
INDEX = ROOT / "docs" / "docsite" / "extra-docs.yml"
REPO_URL = "https://github.com/asgi-uvicorn/asgi.uvicorn"
BRANCH = "main"
LABEL = "ansible_collections.asgi.uvicorn.docsite."

# The site's order and sections; every guide of docs/*.md must be in exactly one.
SECTIONS = [
    ("Deploying", ["deploy-your-app", "sources", "operations", "troubleshooting"]),
    ("Features", ["features", "acme", "cluster"]),
    ("Design and figures", ["architecture", "performance"]),
    ("Releases", ["versioning"]),
]

HEADING_CHARS = {1: ("*", True), 2: ("=", False), 3: ("-", False), 4: ("~", False), 5: ("^", False)}
# Characters after which inline markup may start, and before which it may end, without an
# escaped space (docutils' inline markup recognition rules, simplified to be safe).
OPENERS = set(" \t\n'\"([{<-/:")
CLOSERS = set(" \t\n'\")]}>-/:.,;!?\\")


class ConvertError(Exception):
    pass


def markdown() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def slug(text: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes."""
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def plain(node: SyntaxTreeNode) -> str:
    """The text of an inline node and its children, without markup."""
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(plain(c) for c in node.children)


def escape(text: str) -> str:
    return re.sub(r"([\\`*_|])", r"\\\1", text)


class Converter:
    def __init__(self, source: Path, guides: set[str]):
        self.source = source
        self.name = source.stem
        self.guides = guides
        self.tree = SyntaxTreeNode(markdown().parse(source.read_text(encoding="utf-8")))
        self.anchor_seen: dict[str, int] = {}

    def where(self, node: SyntaxTreeNode) -> str:
        line = node.map[0] + 1 if node.map else "?"
        return f"{self.source.relative_to(ROOT)}:{line}"

    def label(self, guide: str, anchor: str | None = None) -> str:
        return LABEL + guide + (f".{anchor}" if anchor else "")

    # --- links -----------------------------------------------------------------------------
    def target(self, href: str, node: SyntaxTreeNode) -> tuple[str, str]:
        """('ref', label) or ('url', url) for a link of the guide."""
        if re.match(r"^[a-z]+:", href):
            return "url", href
        path, _, anchor = href.partition("#")
        if not path:
            return "ref", self.label(self.name, anchor or None)
        rel = posixpath.normpath(posixpath.join("docs", path))
        if rel.startswith("../") or rel == "..":
            raise ConvertError(f"{self.where(node)}: link to {href!r} leaves the repository")
        if rel.startswith("docs/") and rel.endswith(".md") and rel.count("/") == 1:
            guide = rel[len("docs/"):-len(".md")]
            if guide in self.guides:
                return "ref", self.label(guide, anchor or None)
        kind = "tree" if (ROOT / rel).is_dir() else "blob"
        return "url", f"{REPO_URL}/{kind}/{BRANCH}/{rel}" + (f"#{anchor}" if anchor else "")

    # --- inline ----------------------------------------------------------------------------
    def inline(self, node: SyntaxTreeNode) -> str:
        pieces: list[tuple[str, bool]] = []  # (text, is_markup)
        self.inline_pieces(node, pieces)
        out = ""
        for i, (text, markup) in enumerate(pieces):
            if markup and out and out[-1] not in OPENERS:
                out += "\\ "
            out += text
            if markup and i + 1 < len(pieces):
                nxt = pieces[i + 1][0]
                if nxt and nxt[0] not in CLOSERS:
                    out += "\\ "
        return out

    def inline_pieces(self, node: SyntaxTreeNode, pieces: list[tuple[str, bool]]) -> None:
        for child in node.children:
            t = child.type
            if t == "text":
                pieces.append((escape(child.content), False))
            elif t == "softbreak":
                pieces.append(("\n", False))
            elif t == "code_inline":
                content = child.content
                if "``" in content or content != content.strip():
                    lit = content.replace("`", "\\`")
                    pieces.append((f":literal:`{lit}`", True))
                else:
                    pieces.append((f"``{content}``", True))
            elif t in ("strong", "em"):
                mark = "**" if t == "strong" else "*"
                pieces.append((f"{mark}{escape(plain(child))}{mark}", True))
            elif t == "link":
                kind, where = self.target(child.attrs["href"], child)
                text = plain(child).replace("\n", " ")
                text = re.sub(r"([\\`<>])", r"\\\1", text)
                if kind == "ref":
                    pieces.append((f":ref:`{text} <{where}>`", True))
                else:
                    pieces.append((f"`{text} <{where}>`__", True))
            elif t == "image":
                raise ConvertError(f"{self.where(node)}: an image inside a paragraph")
            elif t == "html_inline":
                raise ConvertError(f"{self.where(node)}: inline HTML {child.content!r}")
            else:
                raise ConvertError(f"{self.where(node)}: unsupported inline {t}")

    # --- blocks ----------------------------------------------------------------------------
    def blocks(self, node: SyntaxTreeNode) -> list[str]:
        """The RST of a container's block children, as chunks separated by blank lines."""
        chunks: list[str] = []
        for child in node.children:
            chunks.extend(self.block(child))
        return chunks

    def block(self, node: SyntaxTreeNode) -> list[str]:
        t = node.type
        if t == "heading":
            level = int(node.tag[1])
            text = self.inline(node.children[0]).replace("\n", " ")
            width = len(text)
            char, over = HEADING_CHARS[level]
            title = f"{char * width}\n{text}\n{char * width}" if over else f"{text}\n{char * width}"
            if level == 1:
                return [f".. _{self.label(self.name)}:", title]
            base = slug(plain(node.children[0]))
            n = self.anchor_seen.get(base, 0)
            self.anchor_seen[base] = n + 1
            return [f".. _{self.label(self.name, base if n == 0 else f'{base}-{n}')}:", title]
        if t == "paragraph":
            kids = node.children[0].children
            if len(kids) == 1 and kids[0].type == "image":
                img = kids[0]
                kind, url = self.target(img.attrs["src"], img)
                if kind == "url" and url.startswith(f"{REPO_URL}/blob/"):
                    url = url.replace(f"{REPO_URL}/blob/", f"{REPO_URL}/raw/", 1)
                return [f".. image:: {url}\n   :alt: {plain(img)}"]
            return [self.inline(node.children[0])]
        if t in ("fence", "code_block"):
            lang = (node.info or "").strip().split(" ")[0] or "text"
            body = "\n".join(("   " + line) if line else "" for line in node.content.rstrip("\n").split("\n"))
            return [f".. code-block:: {lang}\n\n{body}"]
        if t in ("bullet_list", "ordered_list"):
            return [self.list_(node)]
        if t == "table":
            return [self.table(node)]
        if t == "html_block":
            if node.content.strip().startswith("<!--"):
                return []  # a comment (the bench's markers)
            raise ConvertError(f"{self.where(node)}: HTML block")
        if t == "hr":
            return ["----"]
        if t == "blockquote":
            return [indent("\n\n".join(self.blocks(node)), "   ")]
        raise ConvertError(f"{self.where(node)}: unsupported block {t}")

    def list_(self, node: SyntaxTreeNode) -> str:
        items = []
        start = int(node.attrs.get("start", 1)) if node.type == "ordered_list" else 1
        for i, item in enumerate(node.children):
            marker = "-" if node.type == "bullet_list" else f"{start + i}."
            body = "\n\n".join(self.blocks(item))
            pad = " " * (len(marker) + 1)
            items.append(marker + " " + indent(body, pad)[len(pad):])
        return "\n".join(items) if all("\n\n" not in x for x in items) else "\n\n".join(items)

    def table(self, node: SyntaxTreeNode) -> str:
        rows: list[list[str]] = []
        header_rows = 0
        for section in node.children:
            for tr in section.children:
                rows.append([self.inline(cell.children[0]).replace("\n", " ") if cell.children else "" for cell in tr.children])
                if section.type == "thead":
                    header_rows += 1
        out = [".. list-table::", f"   :header-rows: {header_rows}", ""]
        for row in rows:
            for j, cell in enumerate(row):
                out.append(("   * - " if j == 0 else "     - ") + cell if cell else ("   * -" if j == 0 else "     -"))
        return "\n".join(out)

    def convert(self) -> str:
        head = (f".. Generated from docs/{self.source.name} by tools/docs-rst.py: edit that file and run it\n"
                ".. (`make docs-links` fails while this file differs from what it makes).")
        return head + "\n\n" + "\n\n".join(self.blocks(self.tree)) + "\n"


def indent(text: str, pad: str) -> str:
    return "\n".join((pad + line) if line else "" for line in text.split("\n"))


def extra_docs(guides: list[str]) -> str:
    lines = ["---",
             "# The guides on the docs site (antsibull-docs: docs/docsite/rst/<name>.rst), made by",
             "# tools/docs-rst.py from its list of sections and docs/*.md.",
             "sections:"]
    for title, names in SECTIONS:
        present = [n for n in names if n in guides]
        if present:
            lines += [f"  - title: {title}", "    toctree:"] + [f"      - {n}" for n in present]
    return "\n".join(lines) + "\n"


def outputs() -> dict[Path, str]:
    sources = sorted(GUIDES.glob("*.md"))
    guides = [p.stem for p in sources]
    listed = [n for _, names in SECTIONS for n in names]
    missing = [g for g in guides if g not in listed]
    if missing:
        raise ConvertError(f"tools/docs-rst.py: add {', '.join(missing)} to SECTIONS (the site's order)")
    result = {RST / f"{p.stem}.rst": Converter(p, set(guides)).convert() for p in sources}
    result[INDEX] = extra_docs(guides)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the files differ, write nothing")
    args = parser.parse_args()
    try:
        want = outputs()
    except ConvertError as exc:
        print(f"docs-rst: ERROR: {exc}", file=sys.stderr)
        return 1
    stale = [p for p, text in want.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    extra = [p for p in RST.glob("*.rst") if p not in want] if RST.is_dir() else []
    if args.check:
        for p in stale + extra:
            print(f"docs-rst: ERROR: {p.relative_to(ROOT)} is not what tools/docs-rst.py makes "
                  "from docs/*.md: run tools/docs-rst.py", file=sys.stderr)
        if stale or extra:
            return 1
        print(f"docs-rst: {len(want) - 1} guides in docs/docsite/rst/ and extra-docs.yml are current")
        return 0
    RST.mkdir(parents=True, exist_ok=True)
    for p in extra:
        p.unlink()
    for p in stale:
        p.write_text(want[p], encoding="utf-8")
    print(f"docs-rst: wrote {len(stale)} file(s), removed {len(extra)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
