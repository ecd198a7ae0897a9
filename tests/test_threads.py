"""A stage's independent pieces on threads come back in their own order, whichever finishes first."""

import threading
import time

import pytest

from portfolio_dagster.assets import threads


def test_pieces_come_back_in_order_from_several_threads(monkeypatch):
    monkeypatch.setattr(threads, "WORKERS", 2)
    seen = set()

    def work(item: int) -> tuple[int, int]:
        time.sleep(0.05 if item == 0 else 0.0)  # the first piece finishes last
        seen.add(threading.get_ident())
        return item, item * item

    assert threads.on_threads(work, range(6)) == [(i, i * i) for i in range(6)]
    assert len(seen) == 2


def test_one_piece_or_one_worker_runs_in_the_calling_thread(monkeypatch):
    here = threading.get_ident()
    assert threads.on_threads(lambda _: threading.get_ident(), [0]) == [here]
    monkeypatch.setattr(threads, "WORKERS", 1)
    assert threads.on_threads(lambda _: threading.get_ident(), range(3)) == [here] * 3


def test_one_ahead_yields_in_order_with_at_most_the_next_item_computed_early():
    made, consumed = [], []

    def items():
        for i in range(5):
            made.append(i)
            yield i

    for item in threads.one_ahead(items()):
        time.sleep(0.02)  # the next item is made meanwhile
        assert len(made) <= item + 2  # never more than one item ahead of the caller
        consumed.append(item)
    assert consumed == list(range(5)) and made == list(range(5))


def test_one_ahead_raises_the_items_error_when_the_caller_reaches_it():
    def items():
        yield 1
        raise ValueError("year 2 failed")

    got = []
    with pytest.raises(ValueError, match="year 2 failed"):
        for item in threads.one_ahead(items()):
            got.append(item)
    assert got == [1]
