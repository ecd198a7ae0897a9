"""Independent pieces of one stage's work on a few threads of its step.

The pieces (a risk horizon's fits, a forecast pair's skill, next year's forecasts while this year's are
written) spend their time in LightGBM, numpy and DuckDB, which leave Python's lock while they compute,
so a step uses the machine's cores without processes of its own. Results come back in the pieces'
order, so a stage's output does not depend on which thread finished first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

# Threads per step at most (2 on this machine): more would only oversubscribe the cores.
WORKERS = min(4, os.cpu_count() or 1)
T = TypeVar("T")
Item = TypeVar("Item")


def on_threads(work: Callable[[Item], T], items: Iterable[Item]) -> list[T]:
    """[work(item) for item in items], on up to WORKERS threads (in this thread when one would do)."""
    items = list(items)
    if len(items) < 2 or WORKERS < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(work, items))


_END = object()


def one_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of `items` in order, each next one computed on a thread while the caller works on the
    current one (a year's forecasts computed while the previous year's are written): at most two
    items exist at once. The iterator's errors reach the caller when it asks for that item."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, items, _END)
        while (item := pending.result()) is not _END:
            pending = pool.submit(next, items, _END)
            yield item
