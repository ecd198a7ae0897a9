"""docs/features.md is the table generated from the feature registry, and documents every feature."""

from __future__ import annotations

from pathlib import Path

from portfolio_dagster.quant import features
from portfolio_dagster.quant.features.docs import features_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "features.md"


def test_feature_documentation_is_current():
    assert DOC.read_text() == features_markdown(), (
        "regenerate: .venv/bin/python -m portfolio_dagster.quant.features.docs > docs/features.md"
    )


def test_every_feature_has_a_formula_inputs_and_a_row():
    text = DOC.read_text()
    for spec in features.SPECS:
        assert spec.formula and spec.inputs and spec.group
        assert f"| `{spec.name}` |" in text
