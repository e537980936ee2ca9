"""Runs every ```python block of docs/tutorial.md, in order, in one namespace, so the
tutorial never drifts away from the code."""
import contextlib
import io
import re
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


def test_tutorial_extractor_finds_the_blocks():
    blocks = python_blocks("text\n```python\na = 1\n```\n```text\nno\n```\n```python\nb = 2\n```\n")
    assert blocks == [(2, "a = 1\n"), (8, "b = 2\n")]


def test_tutorial_runs(tmp_path, monkeypatch):
    blocks = python_blocks(TUTORIAL.read_text())
    assert len(blocks) >= 10
    monkeypatch.chdir(tmp_path)  # the files the tour writes land here
    namespace = {"__name__": "tutorial"}
    for line, code in blocks:
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(code, f"{TUTORIAL.name}:{line}", "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"docs/tutorial.md block at line {line} failed: "
                            f"{type(exc).__name__}: {exc}")
    assert (tmp_path / "activations.png").exists() and (tmp_path / "lr_finder.png").exists()
