"""The worker's buffer policy (queuekit.prefetch.Prefetch), on a fake clock, and its use by the worker."""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence

import pytest

from queuekit import App, Delivery
from queuekit.prefetch import CEILING, WINDOW, Prefetch


class FakeClock:
    """A monotonic clock that moves only when told to (binary fractions keep the arithmetic exact)."""

    def __init__(self, now: float = 1024.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("queuekit.prefetch.time.monotonic", fake)
    return fake


def run_at(prefetch: Prefetch, clock: FakeClock, rate: int, samples: int = 8, step: float = 0.25) -> None:
    """Settle ``rate`` jobs per second in calls ``step`` seconds apart (each call is one sample)."""
    for _ in range(samples):
        clock.advance(step)
        prefetch.settled(int(rate * step))


# -- fixed prefetch ------------------------------------------------------------------------


@pytest.mark.parametrize(("concurrency", "fixed"), [(1, 0), (2, 6), (8, 3), (4, 500)])
def test_a_fixed_prefetch_is_used_as_given(clock: FakeClock, concurrency: int, fixed: int) -> None:
    policy = Prefetch(concurrency, fixed)
    assert policy.fixed == fixed
    assert policy.prefetch == fixed
    assert policy.capacity == concurrency + fixed
    run_at(policy, clock, rate=100_000)  # a high rate changes nothing
    assert policy.prefetch == fixed
    clock.advance(60.0)  # nor does an idle minute
    assert policy.prefetch == fixed
    assert policy.capacity == concurrency + fixed


def test_a_negative_fixed_prefetch_means_none(clock: FakeClock) -> None:
    policy = Prefetch(3, -5)
    assert policy.prefetch == 0
    assert policy.capacity == 3


# -- adaptive prefetch ---------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 2, 8, 50])
def test_the_adaptive_default_starts_at_three_times_concurrency(clock: FakeClock, concurrency: int) -> None:
    policy = Prefetch(concurrency)
    assert policy.fixed is None
    assert policy.floor == 3 * concurrency
    assert policy.current_rate() == 0.0
    assert policy.prefetch == 3 * concurrency
    assert policy.capacity == 4 * concurrency


def test_a_high_rate_grows_the_prefetch_to_window_seconds_of_work(clock: FakeClock) -> None:
    policy = Prefetch(2)
    run_at(policy, clock, rate=4000)
    assert policy.rate == pytest.approx(4000.0)
    assert policy.prefetch == int(4000 * WINDOW) == 400
    assert policy.capacity == 2 + 400


def test_a_rate_below_the_floor_keeps_the_floor(clock: FakeClock) -> None:
    policy = Prefetch(4)
    run_at(policy, clock, rate=40)  # 4 jobs of work in the window: less than 3 x 4
    assert policy.rate == pytest.approx(40.0)
    assert policy.prefetch == 12


def test_the_prefetch_never_grows_beyond_the_ceiling(clock: FakeClock) -> None:
    capped = Prefetch(2, ceiling=50)
    run_at(capped, clock, rate=4000)
    assert capped.prefetch == 50
    assert capped.capacity == 52
    default = Prefetch(2)
    run_at(default, clock, rate=10_000_000)
    assert default.prefetch == CEILING == 1024


def test_a_ceiling_below_the_floor_is_raised_to_the_floor(clock: FakeClock) -> None:
    policy = Prefetch(10, ceiling=5)
    assert policy.ceiling == 30
    run_at(policy, clock, rate=1_000_000)
    assert policy.prefetch == 30


def test_settles_closer_than_one_sample_accumulate_into_the_next_sample(clock: FakeClock) -> None:
    policy = Prefetch(1)
    for _ in range(4):  # 4 x 1/256 s: below the 0.02 s sample interval, no sample yet
        clock.advance(0.00390625)
        policy.settled(10)
    assert policy.rate == 0.0
    clock.advance(0.25 - 4 * 0.00390625)
    policy.settled(10)  # 50 jobs in 0.25 s
    assert policy.rate == pytest.approx(200.0)


def test_a_rising_rate_is_taken_at_once_and_a_falling_one_smoothed(clock: FakeClock) -> None:
    policy = Prefetch(1)
    clock.advance(0.125)
    policy.settled(125)  # 1000/s: the first sample is taken as is
    assert policy.rate == pytest.approx(1000.0)
    clock.advance(0.125)
    policy.settled(375)  # 3000/s: a rising rate is taken at once
    assert policy.rate == pytest.approx(3000.0)
    clock.advance(0.125)
    policy.settled(125)  # 1000/s: a falling one is averaged with the previous rate
    assert policy.rate == pytest.approx(2000.0)
    assert policy.prefetch == 200


# -- batches -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("concurrency", "fixed", "batch_min"),
    [
        (2, 6, 4),  # half of 8
        (10, 100, 55),  # half of 110
        (8, 2, 2),  # half of 10 is 5, but waiting for 5 free slots would idle a thread: the buffer, 2
        (3, 1, 1),
        (1, 1, 1),
        (4, 0, 1),  # no buffer: refill as soon as one slot is free
        (1, 0, 1),
    ],
)
def test_batch_min_is_half_the_capacity_but_at_most_the_buffer(
    clock: FakeClock, concurrency: int, fixed: int, batch_min: int
) -> None:
    policy = Prefetch(concurrency, fixed)
    assert policy.batch_min(policy.capacity) == batch_min


def test_batch_min_of_the_adaptive_default_is_half_the_capacity(clock: FakeClock) -> None:
    policy = Prefetch(4)
    assert policy.batch_min(policy.capacity) == 8  # capacity 16
    run_at(policy, clock, rate=4000)
    assert policy.batch_min(policy.capacity) == (4 + 400) // 2 == 202


def test_wanted_is_nothing_until_batch_min_slots_are_free_then_at_most_half_the_capacity(clock: FakeClock) -> None:
    policy = Prefetch(2, 6)  # capacity 8, batch_min 4, batch_max 4: two batches fit
    assert [policy.wanted(held) for held in range(9)] == [4, 4, 4, 4, 4, 0, 0, 0, 0]
    assert policy.wanted(12) == 0  # more held than the capacity (it shrank): nothing


def test_a_buffer_smaller_than_concurrency_is_filled_in_one_reserve(clock: FakeClock) -> None:
    policy = Prefetch(8, 2)  # capacity 10: batch_max is all of it, batch_min the buffer
    assert policy.batch_max(policy.capacity) == 10
    assert [policy.wanted(held) for held in range(11)] == [10, 9, 8, 7, 6, 5, 4, 3, 2, 0, 0]
    assert Prefetch(2, 1).batch_max(3) == 3  # the poison fault test's worker


def test_without_a_buffer_one_free_slot_is_refilled(clock: FakeClock) -> None:
    policy = Prefetch(4, 0)
    assert [policy.wanted(held) for held in range(5)] == [4, 3, 2, 1, 0]


def test_wanted_follows_the_adaptive_capacity(clock: FakeClock) -> None:
    policy = Prefetch(2)  # capacity 8, batch_min 4
    assert policy.wanted(5) == 0
    assert policy.wanted(4) == 4
    run_at(policy, clock, rate=4000)  # capacity 402, batch_min 201, batch_max 201
    assert policy.wanted(5) == 201
    assert policy.wanted(201) == 201
    assert policy.wanted(202) == 0


# -- falling back after a burst -------------------------------------------------------------


def test_an_idle_period_after_a_burst_brings_the_prefetch_back_to_the_floor(clock: FakeClock) -> None:
    policy = Prefetch(2)
    run_at(policy, clock, rate=20_000, step=0.0625)
    assert policy.prefetch == CEILING
    clock.advance(0.125)  # a pause shorter than the stale limit: the rate stands
    assert policy.current_rate() == pytest.approx(20_000.0)
    assert policy.prefetch == CEILING
    clock.advance(0.25)  # no sample for 0.375 s: nothing finished since, so the rate can only be 0
    assert policy.current_rate() == 0.0
    assert policy.prefetch == policy.floor == 6
    assert policy.capacity == 8
    assert policy.wanted(4) == 4 and policy.wanted(5) == 0
    assert policy.rate == pytest.approx(20_000.0)  # only the view of it is capped


def test_a_stale_rate_is_capped_by_what_finished_since_the_last_sample(clock: FakeClock) -> None:
    policy = Prefetch(2)
    run_at(policy, clock, rate=20_000, step=0.0625)
    clock.advance(0.015625)
    policy.settled(40)  # too soon for a sample: counted towards the next one
    clock.advance(1.984375)  # 2 s since the last sample: 40 jobs, 20 per second
    assert policy.current_rate() == pytest.approx(20.0)
    assert policy.prefetch == 6
    clock.advance(2.0)
    assert policy.current_rate() == pytest.approx(10.0)


def test_the_first_slow_job_after_an_idle_period_does_not_bring_the_old_rate_back(clock: FakeClock) -> None:
    policy = Prefetch(2)
    run_at(policy, clock, rate=20_000, step=0.0625)
    clock.advance(10.0)
    assert policy.prefetch == policy.floor  # the next burst is greeted with the floor ...
    clock.advance(1.0)
    policy.settled(1)  # ... and its first job, a slow one, finishes
    assert policy.prefetch == policy.floor


# -- the worker ----------------------------------------------------------------------------


def test_the_worker_reserves_two_batches_ahead_and_never_overfills(
    memory_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()

    @memory_app.task
    def noop(index: int) -> None:
        with lock:
            ran[index] += 1

    count = 100
    memory_app.enqueue_many([noop.message(index) for index in range(count)])
    worker = memory_app.worker(burst=True, concurrency=2, prefetch=6, grace=5.0)
    broker = memory_app.broker
    reserve = broker.reserve
    calls: list[tuple[int, int, int]] = []  # (limit, held at the call, jobs returned)

    def recording(queues: Sequence[str], limit: int, lease: float, wait: float = 0.0) -> list[Delivery]:
        held = worker.in_flight
        got = reserve(queues, limit, lease, wait)
        calls.append((limit, held, len(got)))
        return got

    monkeypatch.setattr(broker, "reserve", recording)
    assert worker.run(install_signals=False) == 0

    assert ran == {index: 1 for index in range(count)}  # every job ran, and only once
    assert dict(worker.counts) == {"ack": count}
    stats = broker.stats(["default"])["default"]
    assert stats.ready == 0 and stats.in_flight == 0

    capacity = Prefetch(2, 6).capacity
    batch_min = Prefetch(2, 6).batch_min(capacity)
    assert (capacity, batch_min) == (8, 4)
    assert calls[0][:2] == (capacity // 2, 0)  # an empty worker fetches half, then the other half
    assert calls[1][0] == capacity // 2 and calls[1][1] <= capacity // 2  # (some may be done by then)
    for limit, held, _ in calls:
        assert batch_min <= limit <= capacity // 2  # never fewer than batch_min, never more than two batches fit
        assert held + limit <= capacity  # never more than concurrency + prefetch held
    assert sum(got for _, _, got in calls) == count
    assert calls[-1][2] == 0  # a burst worker stops after a reserve that found nothing
