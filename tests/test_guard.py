"""The story budget: a worker process with a time and a memory limit, for the cases nobody knows."""

from __future__ import annotations

import os
import time

import pytest

from campaign.guard import OverBudget, Worker


def sleep_for_ever() -> None:
    while True:
        time.sleep(1)


def eat_memory() -> int:
    hoard = []
    for _ in range(100):
        hoard.append(bytearray(64 * 1024 * 1024))
    return len(hoard)


def my_pid() -> int:
    return os.getpid()


def refuse() -> None:
    raise ValueError("not this one")


def die() -> None:
    os._exit(9)


def double(value: int) -> int:
    return 2 * value


@pytest.fixture
def worker() -> Worker:
    made = Worker(memory=256 * 1024 * 1024)
    yield made
    made.close()


def test_a_call_that_runs_too_long_is_stopped_and_the_next_one_works(worker: Worker) -> None:
    started = time.monotonic()
    with pytest.raises(OverBudget, match=r"took longer than 0\.5 seconds") as caught:
        worker.call(sleep_for_ever, seconds=0.5)
    assert caught.value.kind == "time"
    assert time.monotonic() - started < 10
    assert worker.call(double, 21) == 42  # a fresh worker took over


def test_a_call_that_needs_too_much_memory_is_stopped(worker: Worker) -> None:
    with pytest.raises(OverBudget) as caught:
        worker.call(eat_memory, seconds=30)
    assert caught.value.kind == "memory"
    assert "256 MB" in str(caught.value)
    assert worker.call(double, 2) == 4


def test_the_worker_lives_on_between_calls_in_its_own_process(worker: Worker) -> None:
    first = worker.call(my_pid)
    assert first != os.getpid()
    assert worker.call(my_pid) == first  # warm caches: one worker for many calls


def test_an_exception_comes_back_and_a_dead_worker_is_a_crash(worker: Worker) -> None:
    with pytest.raises(ValueError, match="not this one"):
        worker.call(refuse)
    with pytest.raises(OverBudget) as caught:
        worker.call(die)
    assert caught.value.kind == "crash"
    assert worker.call(double, 5) == 10
