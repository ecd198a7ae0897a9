"""The files one models run's training steps read and write, so that they never open the warehouse.

The models stage is several Dagster steps (assets/model_steps.py): one reads the warehouse once and writes
a snapshot of what training needs (the features joined with the targets, the model sets already
registered, the run's plan); one step per horizon trains from those files, saving its artifacts into the
model store and its registry rows and feature importance back into the snapshot; the last step writes
them all into the warehouse in one transaction. The steps may run in other processes (the multiprocess
executor) or other hosts (a pod per step: the folder must then be on a volume every pod mounts, as the
model store already is). Parquet in, Parquet out: no pickle. Every file is written to a temporary
name and renamed, so a retried step never reads half a file.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

SNAPSHOT_DIR = "model_inputs"
ROWS, REGISTERED, PLAN = "rows.parquet", "registered.parquet", "plan.json"


def snapshots_root(root: str | Path) -> Path:
    """The folder of every run's snapshot under the model store's root (the data folder)."""
    return Path(root) / SNAPSHOT_DIR


def _replace(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    _replace(tmp, path)


def _write_json(value: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, sort_keys=True))
    _replace(tmp, path)


@dataclass(frozen=True)
class TrainingSnapshot:
    """One run's snapshot folder: inputs (rows, registered sets, plan) and per-horizon results."""

    folder: Path

    @classmethod
    def of_run(cls, root: str | Path, run_key: str) -> TrainingSnapshot:
        """The snapshot of the run `run_key` (a re-execution uses its root run's, whose inputs it reuses)."""
        return cls(snapshots_root(root) / run_key)

    def write_inputs(self, rows: pd.DataFrame, registered: pd.DataFrame, plan: dict) -> None:
        """The training rows, the registry rows already stored, and the plan (JSON-able), replacing any
        earlier snapshot of this run and its results."""
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        _write_parquet(rows, self.folder / ROWS)
        _write_parquet(registered, self.folder / REGISTERED)
        _write_json(plan, self.folder / PLAN)

    def plan(self) -> dict:
        path = self.folder / PLAN
        if not path.exists():
            raise FileNotFoundError(f"training snapshot missing: {path} (re-run the models stage)")
        return json.loads(path.read_text())

    def rows(self, drop: set[str] = frozenset()) -> pd.DataFrame:
        """The training rows without the columns in `drop` (other horizons' targets: read only what a
        step trains on)."""
        names = pq.read_schema(self.folder / ROWS).names
        return pd.read_parquet(self.folder / ROWS, columns=[c for c in names if c not in drop])

    def registered(self) -> pd.DataFrame:
        return pd.read_parquet(self.folder / REGISTERED)

    def write_result(
        self, horizon: int, registry: pd.DataFrame, importance: pd.DataFrame, info: dict
    ) -> None:
        """One horizon's new registry rows, feature importance and counters (JSON-able)."""
        _write_parquet(registry, self.folder / f"registry-h{horizon}.parquet")
        _write_parquet(importance, self.folder / f"importance-h{horizon}.parquet")
        _write_json(info, self.folder / f"result-h{horizon}.json")

    def result(self, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
        """(registry rows, feature importance, counters) a horizon's step wrote."""
        info = self.folder / f"result-h{horizon}.json"
        if not info.exists():
            raise FileNotFoundError(f"no training result for horizon {horizon} in {self.folder}")
        return (
            pd.read_parquet(self.folder / f"registry-h{horizon}.parquet"),
            pd.read_parquet(self.folder / f"importance-h{horizon}.parquet"),
            json.loads(info.read_text()),
        )

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def remove_stale(root: str | Path, keep: str, finished) -> list[str]:
    """Remove other runs' snapshots whose run `finished(run_key)` (a failed run's, left for inspection
    and re-execution); returns the keys removed."""
    removed = []
    base = snapshots_root(root)
    if not base.exists():
        return removed
    for folder in base.iterdir():
        if folder.is_dir() and folder.name != keep and finished(folder.name):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed
