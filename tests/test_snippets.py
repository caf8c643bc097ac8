"""Every Python block of README.md and docs/*.rst runs as written, each on its own.

A block runs in a fresh namespace, in an empty working folder (but for a link to the project's
``examples/``, as in a clone), with ``$GRAPHINFO_DATA`` set to a
data root that holds the shared real datasets (``../shared/data``) and a tiny stand-in for
``ogbn-arxiv`` in OGB's layout (no OGB data is shared; the block's code is the same). A block that
starts from the output of a command shown before it names that command in a comment right above
it, which this test runs first in the same folder:

- reStructuredText: ``.. snippet-setup: graphinfo pretrain ...`` (a comment line);
- Markdown: ``<!-- snippet-setup: graphinfo pretrain ... -->``.

Literal blocks must say their language (``.. code-block:: python``, ``console``, ``bash``), so
that no Python block escapes this test as a bare ``::`` block.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, shared_data_root
from tests.data.ogb_layout import write_tiny_arxiv

DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.rst"))]
_SETUP = re.compile(r"^\s*(?:\.\. |<!-- )snippet-setup: (?P<command>.+?)(?: -->)?\s*$")


@dataclass(frozen=True)
class Snippet:
    document: Path
    line: int
    code: str
    setup: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(PROJECT_ROOT)}:{self.line}"


def _setup_above(lines: list[str], index: int) -> tuple[str, ...]:
    """The ``snippet-setup`` comments directly above line ``index`` (blank lines between)."""
    commands = []
    i = index - 1
    while i >= 0 and (not lines[i].strip() or _SETUP.match(lines[i])):
        match = _SETUP.match(lines[i])
        if match:
            commands.insert(0, match["command"])
        i -= 1
    return tuple(commands)


def _markdown_snippets(path: Path) -> list[Snippet]:
    lines = path.read_text().splitlines()
    snippets, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            snippets.append(Snippet(path, i + 1, "\n".join(lines[i + 1:end]),
                                    _setup_above(lines, i)))
            i = end
        i += 1
    return snippets


def _indented_block(lines: list[str], start: int, indent: int) -> tuple[str, int]:
    """The block indented deeper than ``indent`` from line ``start`` (options skipped)."""
    body, j = [], start
    while j < len(lines) and (not lines[j].strip()
                              or len(lines[j]) - len(lines[j].lstrip()) > indent):
        body.append(lines[j])
        j += 1
    body = [line for line in body if not line.strip().startswith(":")] \
        if body and body[0].strip().startswith(":") else body
    text = "\n".join(body).strip("\n")
    depth = min((len(line) - len(line.lstrip()) for line in text.splitlines() if line.strip()),
                default=0)
    return "\n".join(line[depth:] for line in text.splitlines()), j


def _rst_snippets(path: Path) -> list[Snippet]:
    lines = path.read_text().splitlines()
    snippets, i = [], 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped in (".. code-block:: python", ".. code:: python"):
            indent = len(lines[i]) - len(lines[i].lstrip())
            code, end = _indented_block(lines, i + 1, indent)
            snippets.append(Snippet(path, i + 1, code, _setup_above(lines, i)))
            i = end
            continue
        i += 1
    return snippets


def _bare_literal_blocks(path: Path) -> list[int]:
    """Lines of paragraphs ending in ``::`` (literal blocks without a language)."""
    return [number for number, line in enumerate(path.read_text().splitlines(), 1)
            if line.rstrip().endswith("::") and not line.lstrip().startswith("..")]


SNIPPETS = [snippet for document in DOCUMENTS
            for snippet in (_markdown_snippets(document) if document.suffix == ".md"
                            else _rst_snippets(document))]


def test_the_documents_have_python_blocks_and_no_untyped_literal_blocks():
    assert len(SNIPPETS) >= 15
    untyped = {str(doc.relative_to(PROJECT_ROOT)): _bare_literal_blocks(doc)
               for doc in DOCUMENTS if doc.suffix == ".rst"}
    assert {doc: lines for doc, lines in untyped.items() if lines} == {}, \
        "write '.. code-block:: python' (or console, bash) instead of a bare '::'"


@pytest.fixture(scope="module")
def snippet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared datasets (linked) and a tiny ogbn-arxiv, under one data root."""
    shared = shared_data_root()
    if shared is None:
        pytest.skip("shared datasets not found: set GRAPHINFO_DATA or provide ../shared/data")
    root = tmp_path_factory.mktemp("snippet-data")
    for entry in shared.iterdir():
        (root / entry.name).symlink_to(entry)
    write_tiny_arxiv(root)
    return root


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[snippet.name for snippet in SNIPPETS])
def test_snippet_runs_as_written(snippet: Snippet, snippet_root: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from graphinfo.cli import main

    (tmp_path / "examples").symlink_to(PROJECT_ROOT / "examples")   # as in a clone
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRAPHINFO_DATA", str(snippet_root))
    for command in snippet.setup:
        argv = shlex.split(command)
        assert argv[0] == "graphinfo", f"{snippet.name}: setup must be a graphinfo command"
        assert main(argv[1:]) == 0, f"{snippet.name}: setup {command!r} failed"
    code = compile(snippet.code, snippet.name, "exec")
    namespace = {"__name__": "__snippet__"}
    exec(code, namespace)  # noqa: S102 - the documentation's own code
    assert os.getcwd() == str(tmp_path)
