"""When a failed delivery is tried again: the jittered schedule, what is worth retrying, a
receiver's Retry-After in both of RFC 9110's forms, and when we give up."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from chatfn.webhooks.schedule import (
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER,
    RETRY_DELAYS,
    next_attempt_delay,
)
from chatfn.webhooks.sender import Attempt, ErrorKind, retry_after_seconds

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def failure(
    status: int | None = 503, error: ErrorKind = "status", retry_after: float | None = None
) -> Attempt:
    return Attempt(status, error, "why", latency_ms=12.0, retry_after=retry_after)


def test_the_schedule_is_about_a_day_over_eight_attempts() -> None:
    assert RETRY_DELAYS == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert MAX_ATTEMPTS == 8
    assert 24 <= sum(RETRY_DELAYS) / 3600 <= 28


@pytest.mark.parametrize("number", range(1, MAX_ATTEMPTS))
def test_each_wait_is_its_step_jittered_by_half_either_way(number: int) -> None:
    rng = random.Random(number)  # noqa: S311 (seeded, so a failure can be replayed)
    step = RETRY_DELAYS[number - 1]
    delays = [next_attempt_delay(number, failure(), rng=rng) for _ in range(2000)]
    assert all(d is not None and step * 0.5 <= d <= step * 1.5 for d in delays)
    waits = [d for d in delays if d is not None]
    assert statistics.mean(waits) == pytest.approx(step, rel=0.05)
    # Spread over the whole window, not bunched: what keeps an outage's retries apart.
    assert min(waits) < step * 0.55
    assert max(waits) > step * 1.45


def test_after_the_last_attempt_we_give_up() -> None:
    assert next_attempt_delay(MAX_ATTEMPTS - 1, failure()) is not None
    assert next_attempt_delay(MAX_ATTEMPTS, failure()) is None
    assert next_attempt_delay(MAX_ATTEMPTS + 5, failure()) is None


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        next_attempt_delay(0, failure())


def test_a_delivered_attempt_has_no_next() -> None:
    assert next_attempt_delay(1, Attempt(200, None, "HTTP 200", 3.0)) is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, "status"),
        (502, "status"),
        (503, "status"),
        (408, "status"),
        (429, "status"),
        # Standard Webhooks: any non-2xx is a failure to retry. A 401 from a secret being
        # rotated or a 404 mid-deploy is fixed while the schedule runs.
        (400, "status"),
        (401, "status"),
        (404, "status"),
        (302, "redirect"),
        (None, "timeout"),
        (None, "connection"),
        (None, "tls"),
        (None, "dns"),
    ],
)
def test_failures_worth_retrying(status: int | None, error: ErrorKind) -> None:
    assert next_attempt_delay(1, failure(status, error)) is not None


def test_410_gone_is_not_retried() -> None:
    assert next_attempt_delay(1, failure(410)) is None


def test_a_url_our_policy_refused_is_not_retried() -> None:
    assert next_attempt_delay(1, failure(None, "refused")) is None


def test_retry_after_is_never_waited_less_than_asked() -> None:
    assert next_attempt_delay(1, failure(429, retry_after=3600)) == 3600
    assert next_attempt_delay(3, failure(503, retry_after=MAX_RETRY_AFTER)) == MAX_RETRY_AFTER


def test_a_short_retry_after_does_not_shorten_the_schedule() -> None:
    delay = next_attempt_delay(4, failure(503, retry_after=1))
    assert delay is not None
    assert delay >= RETRY_DELAYS[3] * 0.5


def test_a_retry_after_beyond_a_day_gives_up_rather_than_come_back_sooner() -> None:
    assert next_attempt_delay(1, failure(503, retry_after=MAX_RETRY_AFTER + 1)) is None
    assert next_attempt_delay(1, failure(503, retry_after=float("inf"))) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        # RFC 9110's three HTTP-date forms, 90 s after NOW.
        ("Sun, 01 Mar 2026 12:01:30 GMT", 90.0),
        ("Sunday, 01-Mar-26 12:01:30 GMT", 90.0),
        ("Sun Mar  1 12:01:30 2026", 90.0),
        # A date already past means now.
        ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),
        ("9" * 500, float("inf")),
        (None, None),
        ("", None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("\u0663", None),  # a digit to str.isdigit, but not to HTTP
    ],
)
def test_retry_after_in_either_form(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


def test_an_http_date_retry_after_counts_from_now_by_default() -> None:
    soon = datetime.now(UTC) + timedelta(minutes=10)
    seconds = retry_after_seconds(soon.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None
    assert 595 <= seconds <= 600
