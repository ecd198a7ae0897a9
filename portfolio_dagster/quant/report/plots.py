"""The report's figures, rendered in memory to PNG bytes (matplotlib, Agg backend)."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = {
    "ml_barbell": "#1f5fa8",
    "rule_barbell": "#2e7d32",
    "ml_barbell_lag1": "#8fb4e3",
    "ml_risk_barbell": "#7b1fa2",
    "ml_alpha_barbell": "#c62828",
    "equal_weight": "#e08a1e",
    "benchmark": "#6b6b6b",
}
LABELS = {
    "ml_barbell": "ML barbell",
    "rule_barbell": "rule barbell (ML off)",
    "ml_barbell_lag1": "ML barbell, 1 day late",
    "ml_risk_barbell": "rule returns, ML risk",
    "ml_alpha_barbell": "rule + skill-scaled ML alpha",
    "equal_weight": "1/N",
    "benchmark": "index",
}
DPI = 90
# Regime states from calm to stressed (names used by the regime models); others get spare colours.
STATE_COLORS = {
    "calm": "#9bbb59",
    "normal": "#d7e4a8",
    "volatile": "#f79646",
    "turbulent": "#e46c5a",
    "crisis": "#c0504d",
}


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def _plain_log(ax: plt.Axes) -> None:
    """Log scale with plain numbers (1.5, 2, 5) instead of powers of ten."""
    ax.set_yscale("log")
    fmt = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(fmt)
    ax.tick_params(axis="y", which="minor", labelsize=7)


def _by_strategy(frame: pd.DataFrame):
    for strategy in [s for s in COLORS if s in set(frame["strategy"])]:
        rows = frame[frame["strategy"] == strategy]
        yield strategy, pd.to_datetime(rows["date"]), rows


def equity_png(daily: pd.DataFrame) -> bytes:
    """daily: date, strategy, equity."""
    fig, ax = plt.subplots(figsize=(10, 4.2))
    for s, dates, rows in _by_strategy(daily):
        ax.plot(
            dates,
            rows["equity"],
            label=f"{LABELS[s]} ({rows['equity'].iat[-1]:.2f}x)",
            color=COLORS[s],
            lw=1.2,
        )
    _plain_log(ax)
    ax.set_title("Growth of $1, net of costs (log scale)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3, which="both")
    return _png(fig)


def paper_png(account: pd.DataFrame) -> bytes:
    """account: date, daily_return, backtest_return, benchmark_return (the ledger's sessions)."""
    fig, ax = plt.subplots(figsize=(10, 3.6))
    dates = pd.to_datetime(account["date"])
    for column, label, color in (
        ("daily_return", "paper ledger", "#1f77b4"),
        ("backtest_return", "backtest shadow (ml_barbell)", "#ff7f0e"),
        ("benchmark_return", "index", "#7f7f7f"),
    ):
        growth = (1 + account[column].astype(float).fillna(0.0)).cumprod()
        ax.plot(dates, growth, label=f"{label} ({growth.iat[-1]:.3f}x)", color=color, lw=1.2)
    ax.set_title("Paper trading: growth of $1 from the ledger's first session")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)


def underwater_png(rolling: pd.DataFrame) -> bytes:
    """rolling: date, strategy, drawdown."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for s, dates, rows in _by_strategy(rolling):
        ax.plot(dates, rows["drawdown"] * 100, color=COLORS[s], lw=1, label=LABELS[s])
        if s == "ml_barbell":
            ax.fill_between(dates, rows["drawdown"] * 100, 0, color=COLORS[s], alpha=0.25)
    ax.set_ylabel("drawdown, %")
    ax.set_title("Underwater: loss from the previous peak")
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3)
    return _png(fig)


def rolling_sharpe_png(rolling: pd.DataFrame, window: int) -> bytes:
    """PNG of each strategy's rolling `window`-day Sharpe ratio."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for s, dates, rows in _by_strategy(rolling):
        ax.plot(dates, rows["rolling_sharpe"], color=COLORS[s], lw=1, label=LABELS[s])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title(f"Rolling {window}-day Sharpe ratio")
    ax.legend(loc="upper left", ncol=3, fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def monthly_heatmap_png(table: pd.DataFrame, title: str) -> bytes:
    """table: years x months (1..12) of returns."""
    values = table.to_numpy(dtype=float) * 100
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(table) + 1.2))
    limit = np.nanpercentile(np.abs(values), 98) if np.isfinite(values).any() else 1.0
    ax.imshow(values, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(
        range(12), ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    )
    ax.set_yticks(range(len(table)), [str(y) for y in table.index])
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7)
    ax.set_title(title)
    return _png(fig)


def weights_png(allocations: pd.DataFrame) -> bytes:
    """allocations: date, ticker, weight, sleeve (targets at each decision date), drawn at each month's
    last decision: safe holdings at the bottom in blues, risky names above in warm colours."""
    frame = allocations.assign(date=pd.to_datetime(allocations["date"]))
    table = frame.pivot_table(index="date", columns="ticker", values="weight", aggfunc="sum").fillna(0.0)
    table = table.groupby(table.index.to_period("M")).tail(1)
    sleeve = frame.drop_duplicates("ticker").set_index("ticker")["sleeve"]
    safe = [t for t in table.columns if sleeve.get(t) == "safe"]
    risky = sorted((t for t in table.columns if t not in safe), key=lambda t: -table[t].mean())
    # tab20 without its blues and cyans, so no risky name looks like the safe sleeve.
    palette = [plt.get_cmap("tab20")(i) for i in range(2, 18)]
    warm = [palette[i % len(palette)] for i in range(len(risky))]
    cool = plt.get_cmap("Blues")(np.linspace(0.5, 0.9, max(len(safe), 1)))
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.stackplot(
        table.index,
        [table[t] * 100 for t in [*safe, *risky]],
        labels=[f"{t} (safe)" for t in safe] + risky,
        colors=[*cool[: len(safe)], *warm[: len(risky)]],
        alpha=0.9,
        lw=0,
    )
    ax.plot(table.index, table[safe].sum(axis=1) * 100, color="black", lw=0.8)  # the sleeve boundary
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of book")
    ax.set_title("Target weights over time: safe sleeve (blue, bottom) and risky names")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, ncol=1 + len(table.columns) // 14)
    return _png(fig)


def regime_timeline_png(states: pd.Series, index_equity: pd.Series | None) -> bytes:
    """states: regime state per date (any state names), drawn as coloured bands; the index's growth on top."""
    fig, ax = plt.subplots(figsize=(10, 2.8))
    dates = pd.to_datetime(states.index)
    known = list(STATE_COLORS)
    names = sorted(states.dropna().unique(), key=lambda s: (known.index(s) if s in known else len(known), s))
    spare = iter(["#8064a2", "#4bacc6", "#7f7f7f", "#f2c314"] * 4)
    for name in names:
        color = STATE_COLORS.get(name) or next(spare)
        ax.fill_between(
            dates,
            0,
            (states == name).to_numpy(dtype=float),
            step="post",
            color=color,
            alpha=0.45,
            lw=0,
            label=name,
        )
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    if index_equity is not None and len(index_equity):
        twin = ax.twinx()
        twin.plot(pd.to_datetime(index_equity.index), index_equity, color="black", lw=0.9)
        _plain_log(twin)
        twin.set_ylabel("index growth (log)")
    ax.set_title("Regime timeline: the state known at each close, with the index")
    ax.legend(loc="upper left", fontsize=8, ncol=len(names))
    return _png(fig)


def skill_png(skill: pd.DataFrame) -> bytes:
    """skill: horizon, directional_accuracy, base_rate, ic."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    x = np.arange(len(skill))
    names = [f"{h}d" for h in skill["horizon"]]
    left.bar(x - 0.2, skill["directional_accuracy"] * 100, 0.4, label="model accuracy", color="#1f5fa8")
    left.bar(x + 0.2, skill["base_rate"] * 100, 0.4, label="base rate (always up)", color="#bbbbbb")
    left.axhline(55, color="#c0504d", ls="--", lw=1, label="55% target")
    left.set_xticks(x, names)
    left.set_ylim(40, 70)
    left.set_ylabel("%")
    left.set_title("Directional accuracy vs base rate")
    left.legend(fontsize=8, loc="upper left")
    right.bar(x, skill["ic"], 0.5, color=["#2e7d32" if v > 0 else "#c0504d" for v in skill["ic"].fillna(0)])
    right.axhline(0, color="black", lw=0.8)
    right.set_xticks(x, names)
    right.set_title("Information coefficient (mean daily rank IC)")
    return _png(fig)
