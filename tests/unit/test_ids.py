"""Ids sort in the order they were made, even within one millisecond."""

from __future__ import annotations

import threading

from paydesk.core.ids import new_id


def test_ids_strictly_increase_in_creation_order() -> None:
    ids = [new_id("job") for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("job_") and len(i) == 4 + 26 for i in ids)


def test_ids_are_unique_across_threads() -> None:
    made: list[str] = []
    lock = threading.Lock()

    def make() -> None:
        batch = [new_id("ord") for _ in range(1000)]
        assert batch == sorted(batch)
        with lock:
            made.extend(batch)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 4000
