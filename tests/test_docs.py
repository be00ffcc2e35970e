"""Comments cite only the project's own docs/, and every cited docs page and anchor exists.

A citation is ``docs/<page>.md`` or ``docs/<page>.md#<anchor>``; an anchor is a heading of that
page as GitHub renders it. Citing a section sign, a protocol or performance note without its
``docs/`` path, the old design note or a seed document by name points a reader at a file a clone
does not have.
This module spells those patterns in pieces so that it does not cite them itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCANNED_DIRS = ("adapter", "tests", "templates")
SCANNED_FILES = ("mapping.yaml",)

_SECTION_SIGN = "\u00a7"
_MD = ".md"
# A note named by file, with whatever path precedes it; only a bare "docs/" path is ours.
_NOTE = re.compile(r"(?<![\w./-])([\w./-]*?)\b(paygate|alipayplus|performance|design)\.md\b")
_DESIGN_NOTE = re.compile(rf"\b{'design'.upper()}\b")
# The original documents the project started from; their content is in docs/ now.
_SEED = re.compile(r"\bseed\s+page\b", re.IGNORECASE)
_CITATION = re.compile(r"(?<![\w./-])docs/([\w.-]+\.md)(?:#([\w-]+))?")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """Every heading anchor of a markdown page; repeated headings get -1, -2, ... as on GitHub."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = _HEADING.match(line)
        if in_fence or match is None:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def foreign_citations(line: str) -> list[str]:
    """What in ``line`` cites a document outside docs/."""
    found = [_SECTION_SIGN] if _SECTION_SIGN in line else []
    found += [m.group(0) for m in _NOTE.finditer(line) if m.group(1) != "docs/"]
    found += [m.group(0) for m in _DESIGN_NOTE.finditer(line)]
    found += [m.group(0) for m in _SEED.finditer(line)]
    return found


def missing_target(page: str, anchor: str | None) -> str | None:
    """Why ``docs/<page>#<anchor>`` does not resolve, or None when it does."""
    target = DOCS / page
    if not target.is_file():
        return f"docs/{page} does not exist"
    if anchor is not None and anchor not in anchors(target):
        return f"docs/{page} has no heading with anchor #{anchor}"
    return None


def scanned_files() -> Iterator[tuple[str, list[str]]]:
    """(path relative to the repository, lines) of every text file the rules apply to."""
    paths = [ROOT / name for name in SCANNED_FILES]
    for directory in SCANNED_DIRS:
        paths += sorted(p for p in (ROOT / directory).rglob("*") if p.is_file())
    for path in paths:
        if "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        yield path.relative_to(ROOT).as_posix(), text.splitlines()


def test_the_scanner_tells_our_citations_from_foreign_ones() -> None:
    """The patterns themselves: docs/ paths pass, anything else naming a note does not."""
    assert foreign_citations("see docs/paygate.md#mac and docs/design.md#security") == []
    assert foreign_citations(f"in {_SECTION_SIGN}4.5")
    assert foreign_citations(f"(alipayplus{_MD})")
    assert foreign_citations(f"shared/protocol/paygate{_MD}")
    assert foreign_citations(f"xdocs/paygate{_MD}")
    assert foreign_citations(f"performance{_MD}, one worker")
    assert foreign_citations(f"{'design'.upper()} Security")
    assert foreign_citations(f"({'seed'} page, item 9)")
    assert slug("Alipay+ side") == "alipay-side"
    assert slug("inquiryPayment") == "inquirypayment"


def test_code_cites_no_document_outside_docs() -> None:
    """adapter/, tests/, templates/ and mapping.yaml point only at docs/."""
    problems = [
        f"{name}:{number}: {', '.join(found)}"
        for name, lines in scanned_files()
        for number, line in enumerate(lines, start=1)
        if (found := foreign_citations(line))
    ]
    assert problems == [], "\n".join(problems)


def test_every_cited_docs_anchor_exists() -> None:
    """Each docs/<page>.md#<anchor> in code names an existing page and one of its headings."""
    problems = [
        f"{name}:{number}: {reason}"
        for name, lines in scanned_files()
        for number, line in enumerate(lines, start=1)
        for match in _CITATION.finditer(line)
        if (reason := missing_target(match.group(1), match.group(2)))
    ]
    assert problems == [], "\n".join(problems)


def test_links_between_docs_pages_resolve() -> None:
    """Relative links inside docs/ reach an existing page and heading."""
    problems: list[str] = []
    for page in sorted(DOCS.glob("*.md")):
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            for match in _MARKDOWN_LINK.finditer(line):
                target, _, anchor = match.group(1).partition("#")
                if ":" in target:
                    continue  # an absolute URL
                reason = missing_target(target or page.name, anchor or None)
                if reason:
                    problems.append(f"docs/{page.name}:{number}: {reason}")
    assert problems == [], "\n".join(problems)
