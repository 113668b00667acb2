"""The documentation: a README a newcomer reads in minutes, links that lead somewhere, and a
docs site that builds with `mkdocs build --strict` (which also checks links between pages,
their anchors, and that every page is in the nav)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from no_skips import required

from pipeline import config

ROOT = config.PROJECT_ROOT
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 260
# [text](target) and ![alt](target); the target ends at a space (a title) or the parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1", flags=re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
EXTERNAL = ("http://", "https://", "mailto:")


def markdown_files() -> list[Path]:
    """The README and every Markdown page of the docs site."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def relative_links(text: str) -> list[str]:
    """The link and image targets of a Markdown text that point into the repository
    (code blocks and inline code left out; external URLs and bare #anchors skipped)."""
    prose = INLINE_CODE.sub("", FENCED.sub("", text))
    targets = [match.group(1) for match in LINK.finditer(prose)]
    return [t for t in targets if not t.startswith(EXTERNAL) and not t.startswith("#")]


def broken_links(path: Path) -> list[str]:
    """The relative links of one Markdown file whose target file is not in the repository."""
    broken = []
    for target in relative_links(path.read_text(encoding="utf-8")):
        file = (path.parent / target.split("#", 1)[0]).resolve()
        if not file.exists() or not file.is_relative_to(ROOT):
            broken.append(target)
    return broken


def test_the_readme_is_short_enough_to_read_in_minutes():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; keep it at most {MAX_README_LINES} and move the "
        "rest into a page of docs/"
    )


def test_the_link_finder_sees_links_and_images_and_skips_code_and_urls():
    text = (
        'See [the API](docs/api.md#limits) and ![a picture](docs/a.png "title").\n'
        "Not `[code](nowhere.md)`, nor [a site](https://example.com), nor [here](#top).\n"
        "```bash\necho '[in a block](gone.md)'\n```\n"
        "1. A step:\n\n    ```bash\n    echo '[indented](gone.md)'\n    ```\n"
    )
    assert relative_links(text) == ["docs/api.md#limits", "docs/a.png"]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_in_the_repository(path):
    assert broken_links(path) == []


def test_the_readme_links_every_page_of_the_docs_site():
    linked = set(relative_links(README.read_text(encoding="utf-8")))
    pages = {f"docs/{page.name}" for page in DOCS.glob("*.md") if page.name != "index.md"}
    assert pages <= {target.split("#", 1)[0] for target in linked}


def test_the_docs_site_builds_with_strict_checks(tmp_path):
    missing = [name for name in ("mkdocs", "material") if importlib.util.find_spec(name) is None]
    if missing:
        reason = (
            f"needs {' and '.join(missing)} to build the docs site: "
            "pip install -r requirements-docs.txt"
        )
        if required():
            pytest.fail(reason)
        pytest.skip(reason)
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "model-card" / "index.html").is_file()
