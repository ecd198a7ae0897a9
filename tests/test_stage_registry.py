"""The one registry of stages (assets/stage.py, assets/all.py): every stage has a phase, `pmx run`'s plan,
the jobs and the daily selection come from the phases, and a daily asset and its yearly twin run the
same compute function over their windows."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg
import pytest
import yaml

from portfolio_dagster.assets import stage
from portfolio_dagster.assets.all import ALL_ASSETS, DECISION_STAGES, HISTORY_OF, PIPELINE, SOURCES
from portfolio_dagster.assets.stage import (
    DECISIONS,
    MARKET,
    OPERATIONS,
    PHASES,
    REGISTRY,
    RUN_PHASES,
    StageContext,
    daily_stage,
    phase_of,
    twin_of,
)
from portfolio_dagster.config import load_config
from portfolio_dagster.pipeline_runner import RunFailed, plan
from portfolio_dagster.resources.settings import PipelineSettings

warnings.filterwarnings("ignore", category=dg.BetaWarning)
RANGE = ("2000-01-03", "2022-12-28")


def _planned_stages(phases) -> set[str]:
    """The daily stages a plan runs (a twin counts as its daily stage)."""
    daily_of = {twin: daily for daily, twin in HISTORY_OF.items()}
    return {daily_of.get(a.key, a.key).to_user_string() for p in phases for a in p.assets}


def test_every_asset_has_a_phase_and_every_factory_stage_is_registered():
    assert all(phase_of(a) in PHASES for a in ALL_ASSETS)
    assert set(REGISTRY) <= {a.key for a in ALL_ASSETS}
    assert set(HISTORY_OF) == {a.key for a in (*SOURCES, *PIPELINE) if a.partitions_def is not None}
    assert DECISION_STAGES == ("forecasts", "regimes", "risk_forecasts", "signals", "allocations")


@pytest.mark.parametrize("sources", [["sample"], ["csv"], ["yfinance", "alpha_vantage", "finnhub"]])
def test_the_plan_runs_every_stage_of_the_configured_sources(sources):
    config = load_config().model_copy(
        update={"data": load_config().data.model_copy(update={"sources": sources})}
    )
    phases = plan(config, RANGE)
    expected = {*(f"raw_prices_{s}" for s in sources), *(a.key.to_user_string() for a in PIPELINE)}
    assert _planned_stages(phases) == expected  # the runs' labels: tests/test_orchestration_runner.py


def test_a_new_stage_is_planned_by_its_phase_and_an_unrun_phase_is_refused(monkeypatch):
    @daily_stage(phase=MARKET, group_name="market_data", kinds={"duckdb"})
    def extra_market(context: StageContext) -> dg.MaterializeResult:
        return dg.MaterializeResult()

    @daily_stage(phase=OPERATIONS, history=False)
    def extra_operations(context: StageContext) -> dg.MaterializeResult:
        return dg.MaterializeResult()

    try:
        monkeypatch.setattr("portfolio_dagster.assets.all.PIPELINE", (*PIPELINE, extra_market))
        phases = plan(load_config(), RANGE)
        market = [p for p in phases if p.label.startswith("market")]
        assert "extra_market_history" in {a.key.to_user_string() for a in market[0].assets}
        assert "extra_market" in {a.key.to_user_string() for a in market[1].assets}
        monkeypatch.setattr("portfolio_dagster.assets.all.PIPELINE", (*PIPELINE, extra_operations))
        with pytest.raises(RunFailed, match="extra_operations|operations"):
            plan(load_config(), RANGE)
    finally:
        REGISTRY.pop(extra_market.key)
        REGISTRY.pop(extra_operations.key)


def test_daily_asset_and_twin_call_the_same_function_over_their_windows(tmp_path):
    calls = []

    @daily_stage(phase=DECISIONS, group_name="strategy")
    def recorded(context: StageContext, settings: PipelineSettings) -> dg.MaterializeResult:
        calls.append((context.window, bool(context.run_id), settings.config.data.benchmark))
        return dg.MaterializeResult(metadata={"rows": 1})

    try:
        cfg = load_config().model_dump(mode="json")
        cfg["data"].update(start="1995-01-03", end="1999-12-31")
        cfg["backtest"]["start"] = "1998-01-02"
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(cfg))
        resources = {"settings": PipelineSettings(config_path=str(path))}
        twin = twin_of(recorded)
        assert twin is not None and phase_of(recorded) == DECISIONS
        assert dg.materialize([recorded], partition_key="1999-06-01", resources=resources).success
        for year in ("1997", "1998", "1999"):
            assert dg.materialize([twin], partition_key=year, resources=resources).success
        sp = cfg["data"]["benchmark"]
        assert calls == [
            ((dt.date(1999, 6, 1), dt.date(1999, 6, 2)), True, sp),
            # 1997 is before backtest.start: a decision stage's twin leaves it empty, without a call.
            ((dt.date(1998, 1, 2), dt.date(1999, 1, 1)), True, sp),
            ((dt.date(1999, 1, 1), dt.date(2000, 1, 1)), True, sp),
        ]
    finally:
        REGISTRY.pop(recorded.key)


def test_phases_are_the_runs_of_pmx_run():
    assert RUN_PHASES == ("market", "models", "decisions", "evaluation")
    with pytest.raises(ValueError, match="unknown phase"):
        stage.phase_tags("nightly")


def test_the_definitions_daily_partitions_begin_where_pmx_run_hands_over_from_history(tmp_path):
    from portfolio_dagster.definitions import build_definitions
    from portfolio_dagster.partitions import HISTORY_YEARS, first_daily_session

    cfg = load_config().model_dump(mode="json")
    cfg["data"].update(start="1999-03-01", end="2000-01-01")  # ends on a Saturday
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    defs = build_definitions(path, tmp_path / "w.duckdb", tmp_path)
    first_day = dt.datetime(1999, 12, 27, tzinfo=dt.UTC)  # Mon..Fri 27-31 Dec: the plan's last week
    days = [p.partition_range for p in plan(load_config(path), ("1999-03-01", "1999-12-31"))][1]
    assert days == ("1999-12-27", "1999-12-31")
    for key, registered in REGISTRY.items():
        assert defs.resolve_assets_def(key).partitions_def.start == first_day, key
        assert registered.daily.partitions_def.start.year == 1990  # the asset as defined: every weekday
        if registered.history is not None:
            assert defs.resolve_assets_def(registered.history.key).partitions_def == HISTORY_YEARS
    assert defs.resolve_job_def("daily_job").partitions_def.start == first_day
    # operations.daily_partitions_from starts them earlier (UI backfills of any day range), never later.
    for earlier, begins in (
        ("1999-06-05", dt.datetime(1999, 6, 7, tzinfo=dt.UTC)),
        ("2000-06-01", first_day),
    ):
        cfg["operations"]["daily_partitions_from"] = earlier
        path.write_text(yaml.safe_dump(cfg))
        defs = build_definitions(path, tmp_path / "w.duckdb", tmp_path)
        assert defs.resolve_assets_def("prices").partitions_def.start == begins, earlier
        assert defs.resolve_job_def("daily_job").partitions_def.start == begins, earlier
    # A range shorter than the week runs as days from its first; the week ends on the range's last weekday.
    assert first_daily_session(dt.date(1999, 12, 29), dt.date(1999, 12, 31)) == dt.date(1999, 12, 29)
    assert first_daily_session(dt.date(1999, 1, 4), dt.date(2000, 1, 3)) == dt.date(1999, 12, 28)
