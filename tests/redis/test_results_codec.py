"""The fast outcome encoder writes byte for byte what the core's encoder writes."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from queuekit_redis.results import encode

from queuekit.broker import JobStatus, Outcome
from queuekit.outcomes import outcome_from_bytes, outcome_to_bytes

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)

outcomes = st.builds(
    Outcome,
    job_id=st.text(),
    status=st.sampled_from(JobStatus),
    result=json_values,
    error=st.none() | st.text(),
    traceback=st.none() | st.text(),
    attempts=st.integers(0, 2**40),
    finished_at=st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 2e9),
    extra=st.dictionaries(st.text(), json_values, max_size=2) | st.just({}),
)


@given(outcomes)
def test_fast_encoding_matches_the_core_encoding(outcome: Outcome) -> None:
    assert encode(outcome) == outcome_to_bytes(outcome)
    if math.isfinite(outcome.finished_at):
        assert outcome_from_bytes(encode(outcome)) == outcome


@given(st.text(), st.integers(1, 50), st.floats(0, 2e9), st.none() | st.booleans() | st.integers() | st.text())
def test_plain_successes_take_the_fast_path_and_read_back(
    job_id: str, attempts: int, at: float, result: object
) -> None:
    outcome = Outcome(job_id, JobStatus.SUCCEEDED, result=result, attempts=attempts, finished_at=at)
    assert encode(outcome) == outcome_to_bytes(outcome)
    assert outcome_from_bytes(encode(outcome)) == outcome
