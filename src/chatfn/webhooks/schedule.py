"""When to try a failed delivery again: a pure function of the attempt's number and outcome,
whose answer the caller stores (the next attempt's time in the deliveries table) rather than
sleeps on. That is why no retry library is used: tenacity's and stamina's waits are built
for in-process sleeps around a call, and a stored delay needs only the figure.

The schedule is Svix's, which the Standard Webhooks spec gives as its example: retries 5 s,
5 min, 30 min, 2 h, 5 h, 10 h and 10 h after each failure, eight attempts over about 27.6 h
(one day of a receiver's outage is survived; the spec's own table goes on to three days,
longer than a user waits to hear their endpoint is broken). Each step is jittered by a
factor drawn from [0.5, 1.5): the mean stays the documented schedule, every wait is at least
half its step (full jitter would let a retry land a few seconds after the failure it
follows), and deliveries that failed together in one outage spread over a window as wide as
the step.

What is retried: every failure except two. Standard Webhooks counts any non-2xx as a failure
to retry, and most 4xx are fixed by the user while the schedule runs (a 401 from a secret
they are rotating, a 404 from a deploy), unlike Knative's in-cluster rule of retrying a few
codes. The exceptions are 410 Gone (the spec: the receiver wants no more; the caller should
also disable the endpoint) and a URL our own policy refused (nothing the receiver does
changes that; the endpoint needs a new URL). A 3xx is retried: the user may correct the URL.
"""

from __future__ import annotations

import random
from http import HTTPStatus

from chatfn.webhooks.sender import Attempt

RETRY_DELAYS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = (0.5, 1.5)
# A Retry-After up to a day (the schedule's whole span) is waited for in full; beyond
# that the endpoint asks for more than we would ever wait, and we give up rather than
# come back sooner than asked.
MAX_RETRY_AFTER = 86400.0

_random = random.Random()  # noqa: S311 (jitter, not a secret)


def next_attempt_delay(
    attempt_number: int, attempt: Attempt, *, rng: random.Random = _random
) -> float | None:
    """Seconds to wait before the next attempt after attempt `attempt_number` (1 for the
    first) ended as `attempt`, or None: delivered, not worth retrying, or out of attempts."""
    if attempt_number < 1:
        raise ValueError("attempts are numbered from 1")
    if attempt.error is None or attempt_number >= MAX_ATTEMPTS or not _worth_retrying(attempt):
        return None
    delay = RETRY_DELAYS[attempt_number - 1] * rng.uniform(*JITTER)
    if attempt.retry_after is None:
        return delay
    if attempt.retry_after > MAX_RETRY_AFTER:
        return None
    return max(delay, attempt.retry_after)


def _worth_retrying(attempt: Attempt) -> bool:
    return attempt.error != "refused" and attempt.status != HTTPStatus.GONE
