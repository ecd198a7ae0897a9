"""A stage's independent pieces on threads come back in their own order, whichever finishes first."""

import threading
import time

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
