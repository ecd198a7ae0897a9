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
    return {"settings": PipelineSettings(config_path=str(config)),
            "warehouse": Warehouse(path=str(root / "warehouse.duckdb")), "provider_keys": ProviderKeys()}


def materialize(asset, res: dict, first: str, last: str) -> float:
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    started = time.perf_counter()
    result = dg.materialize([asset], resources=res, tags=tags, selection=[asset.key])
    assert result.success
    return time.perf_counter() - started


def ingest(res: dict, first: str, last: str) -> tuple[float, float]:
    return materialize(raw_prices_sample, res, first, last), materialize(prices, res, first, last)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        warm = resources(Path(tmp) / "warm")
        ingest(warm, DAY, DAY)       # imports, calendar and sample loads: not part of any figure below
        full = resources(Path(tmp) / "full")
        raw_s, px_s = ingest(full, *FULL)
        rows = full["warehouse"].query("SELECT count(*) AS n FROM prices")["n"].iat[0]
        print(f"full sample ingest {FULL[0]}..{FULL[1]} ({rows} price rows): raw_prices_sample {raw_s:.1f} s, "
              f"prices {px_s:.1f} s, total {raw_s + px_s:.1f} s")
        stores = {}
        for label, start in STORED_FROM.items():
            res = resources(Path(tmp) / label.replace(" ", "_"))
            ingest(res, start, "2022-12-27")
            stores[label] = res
        # Alternate the two warehouses so load from other processes hits both alike.
        times: dict[str, list[float]] = {label: [] for label in stores}
        for _ in range(REPEATS):
            for label, res in stores.items():
                times[label].append(sum(ingest(res, DAY, DAY)))
        daily = {}
        for label, res in stores.items():
            stored = res["warehouse"].query("SELECT count(*) AS n FROM prices")["n"].iat[0]
            daily[label] = min(times[label])
            print(f"daily ingest of {DAY} with {label} stored ({stored} price rows): best of {REPEATS} "
                  f"{daily[label]:.2f} s, median {sorted(times[label])[REPEATS // 2]:.2f} s "
                  "(raw + prices, each a Dagster materialization)")
        ratio = daily["30 years"] / daily["5 years"]
        print(f"ratio 30y / 5y: {ratio:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
