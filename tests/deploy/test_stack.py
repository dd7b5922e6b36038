"""deploy/ as an operator runs it, answering as it should: every request goes through
nginx's published port under the public host name, as a client on the Internet sends it.

Jobs of every kind the service offers come back exact, checked against programs that
share nothing with chunkwise; a login made on one API replica works on all of them; a
job is followed live through nginx; Flower asks for its credentials; /metrics is not
public, and each replica gives it to Prometheus with the token.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from typing import Any

import httpx
import pytest

from chunkwise.client import JobEvent
from tests.deploy.compose import Container
from tests.deploy.conftest import DEPLOY_TIMEOUT_S, Account
from tests.deploy.host import podman
from tests.deploy.jobs import (
    primecount,
    primes_between,
    result_of,
    sum_of_range,
    wait_ended,
)
from tests.deploy.stack import Stack
from tests.deploy.timings import Timings
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(DEPLOY_TIMEOUT_S)]

RESULT_PAGE = 10_000
ME_CALLS = 12
"""GET /api/auth/me calls through nginx: round robin reaches every replica."""
HEALTHY_TIMEOUT_S = 180.0
ME_COUNT = re.compile(
    r'^chunkwise_api_request_seconds_count\{(?=[^}]*method="GET")(?=[^}]*route="/api/auth/me")'
    r"[^}]*\}\s+(\S+)$",
    re.MULTILINE,
)


def test_every_container_reports_healthy(stack: Stack) -> None:
    # Given the stack up, when each health check has run, then each says healthy
    def unhealthy() -> list[str]:
        return [
            f"{c.name}: {c.health or c.state}"
            for c in stack.compose.containers()
            if c.service != "migrate" and (c.state != "running" or c.health not in ("", "healthy"))
        ]

    try:
        wait_for(lambda: not unhealthy(), timeout_s=HEALTHY_TIMEOUT_S, interval_s=1.0)
    except AssertionError:
        pytest.fail(f"not healthy: {unhealthy()}\n{_last_health_outputs(stack)}")


def _last_health_outputs(stack: Stack) -> str:
    lines = []
    for container in stack.compose.containers():
        if container.health not in ("", "healthy"):
            found = json.loads(podman("inspect", "--type", "container", container.id))
            log = ((found[0].get("State") or {}).get("Health") or {}).get("Log") or [{}]
            lines.append(f"{container.name}: {str(log[-1].get('Output', '')).strip()[-300:]}")
    return "\n".join(lines)


def test_a_login_on_one_replica_works_on_every_replica(stack: Stack, account: Account) -> None:
    # Given a token from one login, through nginx, on whichever replica it chose
    replicas = [c for c in stack.compose.containers("api") if c.state == "running"]
    assert len(replicas) >= 2, replicas
    before = {c.name: _me_requests(stack, c) for c in replicas}

    # When it is used enough times for round robin to reach every replica
    with stack.http(account.token) as http:
        answers = [http.get("/api/auth/me") for _ in range(ME_CALLS)]

    # Then every answer is the account, and every replica gave some of them
    assert [a.status_code for a in answers] == [200] * ME_CALLS, answers[-1].text
    assert {a.json()["email"] for a in answers} == {account.email}
    served = {c.name: _me_requests(stack, c) - before[c.name] for c in replicas}
    assert sum(served.values()) == ME_CALLS and all(served.values()), served


def _me_requests(stack: Stack, replica: Container) -> int:
    status, body = stack.scrape(replica, token=stack.metrics_token)
    assert status == 200, body
    return int(sum(float(count) for count in ME_COUNT.findall(body)))


SIEVE_N, COMBINATORIAL_N = 10**9 + 7, 10**13 + 37
SUM_FROM, SUM_TO = -12_345, 10**15 + 7
CASES: dict[str, tuple[str, dict[str, Any], int]] = {
    "sum_range": ("sum_range", {"a": SUM_FROM, "n": SUM_TO}, 8),
    "prime_count-sieve": ("prime_count", {"n": SIEVE_N, "method": "sieve"}, 8),
    "prime_count-combinatorial": (
        "prime_count",
        {"n": COMBINATORIAL_N, "method": "combinatorial"},
        8,
    ),
    "prime_list-sieve": ("prime_list", {"start": 99_000_000, "end": 10**8}, 4),
    "prime_list-trial_division": (
        "prime_list",
        {"start": 0, "end": 200_000, "algorithm": "trial_division"},
        2,
    ),
}
"""Jobs of the kinds whose results are exact, as (kind, params, chunks); monte_carlo has a
test of its own."""
CHECKED_KINDS = {"sum_range", "prime_count", "prime_list", "monte_carlo"}


def test_every_kind_offered_is_one_checked_here(stack: Stack, account: Account) -> None:
    with stack.client(account.token) as client:
        offered = {kind.kind for kind in client.kinds()}
    assert offered == CHECKED_KINDS, "a kind without a check in tests/deploy, or one missing"


@pytest.mark.parametrize("case", list(CASES))
def test_a_job_of_each_kind_comes_back_exact(stack: Stack, account: Account, case: str) -> None:
    kind, params, chunks = CASES[case]
    if kind == "prime_count" and not shutil.which("primecount"):
        pytest.skip("no primecount, the oracle (make primecount installs it)")
    with stack.client(account.token) as client:
        job = client.submit(kind, params, chunks=chunks, cache=False)
        result = result_of(wait_ended(job))
        if kind == "sum_range":
            assert result["sum"] == sum_of_range(params["a"], params["n"])
        elif kind == "prime_count":
            assert result["prime_count"] == primecount(params["n"])
        else:
            primes = primes_between(params["start"], params["end"])
            assert result["count"] == len(primes)
            assert (result["first"], result["last"]) == (primes[0], primes[-1])
            assert list(job.result_items(page_size=RESULT_PAGE)) == primes


MONTE_CARLO = {"amount": 1000.0, "rate": 0.05, "volatility": 0.2, "years": 10}


def test_monte_carlo_repeats_with_its_seed_and_is_sane(stack: Stack, account: Account) -> None:
    params = {**MONTE_CARLO, "paths": 200_000, "seed": 20_241_207}
    with stack.client(account.token) as client:
        jobs = [client.submit("monte_carlo", params, chunks=c, cache=False) for c in (4, 4, 7)]
        first, again, other_split = (result_of(wait_ended(job)) for job in jobs)

    # The same seed and split: the same result, to the bit (but for how long it took)
    for result in (first, again, other_split):
        result.pop("duration_sec", None)
    assert first == again
    # Another split: the same paths (each block of paths has its own stream)
    assert other_split["probability_of_loss"] == first["probability_of_loss"]
    for key in ("mean", "std"):
        assert other_split[key] == pytest.approx(first[key], rel=1e-12)
    # And sane: the paths asked for, the mean where the model puts it, ordered percentiles
    assert first["paths"] == params["paths"] and first["seed"] == params["seed"]
    assert abs(first["mean"] - first["expected_mean"]) < 6 * first["standard_error"]
    levels = list(first["percentiles"].values())
    assert levels == sorted(levels) and 0 <= first["probability_of_loss"] <= 1


def test_a_job_is_followed_live_through_nginx(
    stack: Stack, account: Account, timings: Timings
) -> None:
    # Given a job of several chunks of a second or so
    n, chunks = 4 * 10**10, 8
    expected = primecount(n)
    events: list[tuple[float, JobEvent]] = []
    with stack.client(account.token) as client:
        job = client.submit("prime_count", {"n": n, "method": "sieve"}, chunks=chunks, cache=False)

        # When its events are read through nginx until the end
        for event in job.events():
            events.append((time.monotonic(), event))

    # Then there is one per chunk, then the end with the exact result
    arrived, last = events[-1]
    assert last.is_end and last.state == "SUCCESS", last
    assert last.job is not None and last.job.result is not None
    assert last.job.result["prime_count"] == expected
    done = [(at, e.chunk.index) for at, e in events if e.chunk is not None]
    assert sorted(index for _, index in done) == list(range(chunks))
    # And they came as the chunks finished, not held back until the end (no buffering)
    first_chunk_at = done[0][0]
    assert arrived - first_chunk_at > 0.5, "every event came at once: the stream was buffered"
    timings.add("SSE job through nginx (π(4e10), 8 chunks)", arrived - events[0][0])


def test_flower_asks_for_its_credentials(stack: Stack) -> None:
    # Flower runs under the `flower` profile, on its own published port
    def answers() -> httpx.Response | None:
        try:
            return httpx.get(stack.flower_url, timeout=10)
        except httpx.HTTPError:
            return None

    anonymous = wait_for(answers, timeout_s=60, what="Flower to answer")
    assert anonymous.status_code == 401
    signed = httpx.get(stack.flower_url, auth=stack.flower_auth, timeout=10, follow_redirects=True)
    assert signed.status_code == 200


def test_metrics_are_not_public_and_each_replica_gives_them_with_the_token(stack: Stack) -> None:
    with stack.http() as http:
        public = http.get("/metrics")
    assert public.status_code != 200, "GET /metrics answers through nginx"
    for replica in stack.compose.containers("api"):
        assert stack.scrape(replica, token=None)[0] == 401
        status, body = stack.scrape(replica, token=stack.metrics_token)
        assert status == 200 and "chunkwise_api_request_seconds" in body
