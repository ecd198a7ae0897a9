"""Feature specifications: one record per feature, the single source of the feature table's columns,
its DDL (ddl.py) and its documentation (docs.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureSpec:
    """One feature's documentation: name, group, formula, window, inputs, warm-up and when it is NaN."""

    name: str
    group: str  # seed | returns | trend | volatility | range | volume | market | candle | cross_section
    formula: str  # plain-text definition
    window: int | None
    inputs: str  # price fields read (market: the benchmark's returns, else the equal-weight universe)
    history: int  # closes needed before the first defined value (the warm-up, in rows)
    note: str = ""  # when it is NaN by design


def windowed(
    group: str,
    template: str,
    formula: str,
    windows: tuple[int, ...],
    inputs: str,
    extra_history: int = 0,
    note: str = "",
) -> list[FeatureSpec]:
    """One spec per window; `template` and `formula` take {w}."""
    return [
        FeatureSpec(template.format(w=w), group, formula.format(w=w), w, inputs, w + extra_history, note)
        for w in windows
    ]
