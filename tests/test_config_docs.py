"""docs/config.md is generated from the config model and pipeline.yaml's comments, and gives every key a
meaning."""

from __future__ import annotations

from pathlib import Path

from portfolio_dagster.config_docs import config_markdown, undocumented, yaml_meanings

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def test_config_documentation_is_current():
    assert DOC.read_text() == config_markdown(), (
        "regenerate: .venv/bin/python -m portfolio_dagster.config_docs > docs/config.md"
    )


def test_every_key_has_a_meaning():
    assert undocumented() == []


def test_meanings_come_from_trailing_comments_or_the_lines_above():
    text = "a:\n  # the first\n  # key\n  x: 1\n  y: 2   # the second\n\n  z: 3\n"
    assert yaml_meanings(text) == {"a.x": "the first key", "a.y": "the second"}
