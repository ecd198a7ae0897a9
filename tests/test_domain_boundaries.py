"""The domain (portfolio_dagster/quant) imports neither dagster, duckdb nor the config package, and facts
are defined once (the annualization factor)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import portfolio_dagster
from portfolio_dagster.config import StrategyConfig
from portfolio_dagster.quant.allocation import StrategyParams

PACKAGE = Path(portfolio_dagster.__file__).parent
QUANT = PACKAGE / "quant"
# The config package: config.py and the modules it is split into (its models' sections, their base).
FORBIDDEN = (
    "dagster",
    "duckdb",
    "portfolio_dagster.config",
    "portfolio_dagster.config_models",
    "portfolio_dagster.config_section",
)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_domain_imports_no_orchestration_storage_or_config():
    offending = {
        str(p.relative_to(PACKAGE)): sorted(
            n for n in _imports(p) if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)
        )
        for p in QUANT.rglob("*.py")
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_strategy_config_provides_what_allocation_reads():
    needed = set(StrategyParams.__annotations__)
    assert needed and needed <= set(StrategyConfig.model_fields)


def test_trading_days_per_year_is_defined_once():
    definition = re.compile(r"^\s*(TRADING_DAYS|ANNUALI[SZ]ATION|\w*PER_YEAR)\s*=\s*\d", re.MULTILINE)
    defined = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if definition.search(p.read_text())]
    assert set(defined) <= {"quant/calendar.py"}, defined
    assert "quant/calendar.py" in defined
    assert [str(p.relative_to(PACKAGE)) for p in QUANT.rglob("*.py") if _annualizes_by_literal(p)] == []


def _annualizes_by_literal(path: Path) -> bool:
    """A literal 252 multiplied, divided or square-rooted in code (docstrings may state formulas)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)):
            operands = (node.left, node.right)
        elif (
            isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "sqrt"
        ):
            operands = tuple(node.args)
        else:
            continue
        if any(isinstance(o, ast.Constant) and o.value == 252 for o in operands):
            return True
    return False
