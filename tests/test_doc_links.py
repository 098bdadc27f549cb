"""The README and docs/*.md link only to files that exist and to headings that exist (anchors as
GitHub makes them), and the README's test command is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def without_code(text: str) -> str:
    """The text outside fenced code blocks and inline code (links there are not links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        name, number = anchor(heading), 1
        while name in found:  # GitHub numbers repeated headings: name, name-1, name-2, ...
            name, number = f"{anchor(heading)}-{number}", number + 1
        found.add(name)
    return found


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(without_code(page.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no such heading in {linked.name}")
    return broken


def test_anchors_are_made_as_github_makes_them():
    train = "rlv train [PRESET] --out RUN [--field value ...]"
    assert anchor(train) == "rlv-train-preset---out-run---field-value-"
    assert anchor("Vision: the paper's push and drawer opening (in progress)") == (
        "vision-the-papers-push-and-drawer-opening-in-progress"
    )
    assert "x" not in anchors(ROOT / "README.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_links_lead_somewhere(page):
    assert broken_links(page) == []


def test_a_broken_link_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](missing.md) [b](#title) [c](#no-heading) `[d](in-code.md)`\n")
    assert broken_links(page) == ["missing.md: no such file", "#no-heading: no such heading in page.md"]


def test_the_readme_test_command_is_what_ci_runs():
    assert "make test\n" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    results = (ROOT / "docs" / "results.md").read_text()
    assert "## Vision: the paper's push and drawer opening" in results
