"""The plan of `pmx run`: which Dagster runs materialize the graph over a range.

`pmx run` over a range: the history through the yearly `<stage>_history` twins (assets/history.py),
then the range's last week through the daily assets (their checks, the UI's daily status), in six
runs: market history, market days, models, decision history, decision days, evaluation. Each Dagster
partition costs events in the instance's event log (5-60 ms each on SQLite here), so a 33-year load
as daily partitions would spend minutes on bookkeeping; as years it records ~33 per stage.
pipeline_execution runs the plan (run_pipeline), pipeline_summary reads the results.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.partitions import first_daily_session, weekday_keys


class RunFailed(Exception):
    """A Dagster run failed; the message is the failing stage and its cause in one line."""


@dataclass(frozen=True)
class Phase:
    """One Dagster run: assets of one partitioning over one key range (None: unpartitioned). `job`:
    a named job of the definitions whose steps run on the multiprocess executor (the models stage's
    training steps at once); None: the global asset job, in this process."""

    label: str
    assets: tuple[dg.AssetsDefinition, ...]
    partition_range: tuple[str, str] | None = None
    partitions: int = 1  # partitions per asset, for the progress display
    job: str | None = None


# ---------------------------------------------------------------------------------------------
# the plan of `pmx run`


def _day(key: str) -> dt.date:
    return dt.date.fromisoformat(key)


def _weekdays(first: dt.date, last: dt.date) -> int:
    return int(pd.bdate_range(first, last).size) if first <= last else 0


def source_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    from portfolio_dagster.assets.raw_prices import RAW_PRICE_ASSETS

    return [RAW_PRICE_ASSETS[s] for s in config.data.sources]


def stages(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    """Every daily and unpartitioned stage of `pmx run`, in pipeline order."""
    from portfolio_dagster.assets.all import PIPELINE

    return source_assets(config) + list(PIPELINE)


def plan(config: PipelineConfig, partition_range: tuple[str, str]) -> list[Phase]:
    """The runs of `pmx run` over [first, last] (daily partition keys of config.data's range): per phase
    of RUN_PHASES (the stages' phase tags), the daily stages' history through their yearly twins and the
    last days as daily partitions, or one run of its unpartitioned stages."""
    from portfolio_dagster.assets.stage import BACKTEST_PHASES, MODELS, RUN_PHASES, by_phase, twin_of
    from portfolio_dagster.jobs.pipeline import retrain_job

    grouped = by_phase(stages(config))
    unknown = sorted(set(grouped) - set(RUN_PHASES))
    if unknown:  # assets/all.py refuses this at import; a plan must never skip a stage silently
        raise RunFailed(f"stages outside `pmx run`'s phases: {', '.join(unknown)}")
    first, last = _day(partition_range[0]), _day(partition_range[1])
    # Daily partitions for the range's last week (where the definitions' daily partitions begin);
    # everything before through the twins.
    days_first = first_daily_session(first, last)
    decisions_first = max(first, weekday_keys(config.backtest.start, last)[0])
    phases = []

    def add(label: str, assets: list[dg.AssetsDefinition], lo: dt.date, hi: dt.date) -> None:
        if lo > hi:
            return
        if lo < days_first:  # history: whole calendar years; each twin clips them to the config's range
            hist_hi = min(hi, days_first - dt.timedelta(days=1))
            phases.append(
                Phase(
                    f"{label} history",
                    tuple(twin_of(a) for a in assets),
                    (str(lo.year), str(hist_hi.year)),
                    hist_hi.year - lo.year + 1,
                )
            )
        lo_days = max(lo, days_first)
        phases.append(
            Phase(
                f"{label} days", tuple(assets), (lo_days.isoformat(), hi.isoformat()), _weekdays(lo_days, hi)
            )
        )

    for phase in RUN_PHASES:
        assets = grouped.get(phase, [])
        if assets and all(a.partitions_def is not None for a in assets):
            add(phase, assets, decisions_first if phase in BACKTEST_PHASES else first, last)
        elif assets:
            # The models stage's steps (a training step per horizon) run at once: retrain_job (phase
            # models) on the multiprocess executor.
            phases.append(Phase(phase, tuple(assets), job=retrain_job.name if phase == MODELS else None))
    return phases
