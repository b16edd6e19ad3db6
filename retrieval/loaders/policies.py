"""Load policy documents (Markdown or plain text) and chunk them into sections for retrieval."""

from __future__ import annotations

import re
from pathlib import Path

from retrieval.documents import PolicySection
from retrieval.loaders.errors import DataError, DataIssue, IssueCollector

POLICY_SUFFIXES = (".md", ".markdown", ".txt")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TEXT_CHUNK_WORDS = 180


def slugify(text: str) -> str:
    """`"Return window (30 days)"` -> `"return-window-30-days"`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def load_policies(path: Path) -> list[PolicySection]:
    """Load one policy file, or every .md/.txt file in a folder (sorted by name)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in POLICY_SUFFIXES and p.is_file())
        if not files:
            raise DataError([DataIssue(str(path), "no policy files (.md or .txt) in this folder")])
    elif path.is_file():
        files = [path]
    else:
        raise DataError([DataIssue(str(path), "file not found")])
    sections: list[PolicySection] = []
    problems: list[DataIssue] = []
    for file in files:
        try:
            sections.extend(load_policy_file(file))
        except DataError as exc:
            problems.extend(exc.issues)
    if problems:
        raise DataError(problems)
    return sections


def load_policy_file(path: Path) -> list[PolicySection]:
    """Markdown: one section per level-2 heading (deeper headings stay inside); text: paragraph chunks."""
    issues = IssueCollector(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.add(f"not UTF-8 text (byte {exc.start})")
        issues.raise_if_any()
    if not text.strip():
        issues.add("the policy file is empty", 1)
        issues.raise_if_any()
    doc_slug = slugify(path.stem)
    if path.suffix.lower() == ".txt":
        sections = _chunk_text(text, doc_slug, path.stem.replace("_", " ").replace("-", " ").title())
    else:
        sections = _chunk_markdown(text, doc_slug, path, issues)
    issues.raise_if_any()
    return sections


def _chunk_markdown(text: str, doc_slug: str, path: Path, issues: IssueCollector) -> list[PolicySection]:
    title = path.stem.replace("_", " ").replace("-", " ").title()
    chunks: list[tuple[str, int, list[str]]] = [("Overview", 1, [])]
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            title = match.group(2) or title
            continue
        if match and len(match.group(1)) == 2:
            heading = match.group(2)
            if not heading:
                issues.add("empty section heading", number)
            chunks.append((heading, number, []))
            continue
        chunks[-1][2].append(line)
    sections: list[PolicySection] = []
    used: dict[str, int] = {}
    for heading, line, body in chunks:
        content = "\n".join(body).strip()
        if not content:
            if heading != "Overview":
                issues.add(f"section '{heading}' has no text", line)
            continue
        slug = slugify(heading)
        if slug in used:
            issues.add(f"duplicate section heading '{heading}' (also on line {used[slug]})", line)
            continue
        used[slug] = line
        sections.append(PolicySection(id=f"{doc_slug}#{slug}", document=title, heading=heading, text=content))
    return sections


def _chunk_text(text: str, doc_slug: str, title: str) -> list[PolicySection]:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    chunks: list[list[str]] = [[]]
    for paragraph in paragraphs:
        words = sum(len(p.split()) for p in chunks[-1])
        if chunks[-1] and words + len(paragraph.split()) > _TEXT_CHUNK_WORDS:
            chunks.append([])
        chunks[-1].append(paragraph)
    return [PolicySection(id=f"{doc_slug}#part-{i}", document=title, heading=f"Part {i}", text="\n\n".join(c))
            for i, c in enumerate(chunks, start=1)]
