"""Ingest speed: the full bundled sample (raw_prices_sample + prices over 1990-01-02..2022-12-28 in one
ranged Dagster run each, as `pmx run` does), and one daily partition's ingest with 5 and with 30 years
already in the warehouse (the target: the 30-year daily run within 1.2x the 5-year one).

Run: .venv/bin/python -m benchmarks.bench_ingest
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import dagster as dg
import yaml

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.assets.raw_prices import raw_prices_sample
from portfolio_dagster.config import load_config
from portfolio_dagster.resources.provider_keys import ProviderKeys
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

REPEATS = 5
DAY = "2022-12-28"
STORED_FROM = {"5 years": "2017-12-27", "30 years": "1992-12-28"}
FULL = ("1990-01-02", "2022-12-28")


def resources(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(load_config().model_dump(mode="json")))
    return {
        "settings": PipelineSettings(config_path=str(config)),
        "warehouse": Warehouse(path=str(root / "warehouse.duckdb")),
        "provider_keys": ProviderKeys(),
    }


def materialize(asset, res: dict, first: str, last: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one in-process materialization. CPU time is this process's alone: on a
    shared machine it is the steadier figure for comparing two runs."""
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    wall, cpu = time.perf_counter(), time.process_time()
    result = dg.materialize([asset], resources=res, tags=tags, selection=[asset.key])
    assert result.success
    return time.perf_counter() - wall, time.process_time() - cpu


def ingest(res: dict, first: str, last: str) -> tuple[float, float]:
    """(wall, CPU) of raw_prices_sample then prices over the range."""
    raw = materialize(raw_prices_sample, res, first, last)
    px = materialize(prices, res, first, last)
    return raw[0] + px[0], raw[1] + px[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        warm = resources(Path(tmp) / "warm")
        ingest(warm, DAY, DAY)  # imports, calendar and sample loads: not part of any figure below
        full = resources(Path(tmp) / "full")
        raw_wall, raw_cpu = materialize(raw_prices_sample, full, *FULL)
        px_wall, px_cpu = materialize(prices, full, *FULL)
        rows = full["warehouse"].query("SELECT count(*) AS n FROM prices")["n"].iat[0]
        print(
            f"full sample ingest {FULL[0]}..{FULL[1]} ({rows} price rows), one ranged run each: "
            f"raw_prices_sample {raw_wall:.1f} s wall / {raw_cpu:.1f} s CPU, prices {px_wall:.1f} s wall / "
            f"{px_cpu:.1f} s CPU",
            flush=True,
        )
        stores = {}
        for label, start in STORED_FROM.items():
            res = resources(Path(tmp) / label.replace(" ", "_"))
            ingest(res, start, "2022-12-27")
            stores[label] = res
        # Alternate the two warehouses so load from other processes hits both alike.
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in stores}
        for _ in range(REPEATS):
            for label, res in stores.items():
                times[label].append(ingest(res, DAY, DAY))
        daily = {}
        for label, res in stores.items():
            stored = res["warehouse"].query("SELECT count(*) AS n FROM prices")["n"].iat[0]
            walls, cpus = zip(*times[label], strict=True)
            daily[label] = (min(walls), min(cpus))
            print(
                f"daily ingest of {DAY} with {label} stored ({stored} price rows), raw + prices, best of "
                f"{REPEATS}: {min(walls):.2f} s wall, {min(cpus):.2f} s CPU",
                flush=True,
            )
        wall_ratio = daily["30 years"][0] / daily["5 years"][0]
        cpu_ratio = daily["30 years"][1] / daily["5 years"][1]
        print(f"ratio 30y / 5y: wall {wall_ratio:.2f}, CPU {cpu_ratio:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
