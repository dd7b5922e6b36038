"""Seed 003's README examples, its add_task.py's calls, and `chunkwise add-task`."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import httpx
import pytest

from chunkwise.launcher import chunkwise_argv
from tests.compat.conftest import curl_examples
from tests.live import LiveSystem
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SECTION = "Seed 003: Distributed Task Queue"


def completed(base: str, task_id: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        data: dict[str, Any] = httpx.get(f"{base}/task/{task_id}").json()["data"]
        return data if data["status"] in ("completed", "failed") else None

    return wait_for(done, timeout_s=120, interval_s=0.05, what=f"task {task_id}")


def test_the_readme_examples_find_9592_primes_below_100000(compat_live: LiveSystem) -> None:
    submit, status, stats = curl_examples(SECTION)
    created = submit.send(compat_live.api_url)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "success" and body["message"]
    data = body["data"]
    assert isinstance(data["task_id"], int) and data["status"] == "pending"
    assert data["max_attempts"] >= 1
    task = completed(compat_live.api_url, data["task_id"])
    answer = status.send(compat_live.api_url, str(data["task_id"])).json()
    assert answer["status"] == "success" and answer["data"] == task
    assert task["status"] == "completed" and task["method"] == "sieve"
    assert task["count"] == len(task["primes"]) == 9592
    assert task["primes"][:4] == [2, 3, 5, 7] and task["primes"][-1] == 99_991
    assert task["assigned_to"] and task["attempts"] >= 1
    summary = stats.send(compat_live.api_url).json()["data"]
    assert summary["completed_tasks"] >= 1 and summary["active_workers"] == 2
    assert {w["worker_id"] for w in summary["workers"]} == {"worker1@test", "worker2@test"}


def test_add_task_py_calls_then_a_bad_method(compat_live: LiveSystem) -> None:
    base = compat_live.api_url
    # add_task.py: for each of COUNT, POST /submit-task {"task_type": "compute",
    # "task_data": {"limit", "method"}}, expecting 200 or 201.
    ids = []
    for _ in range(2):
        payload = {"task_type": "compute", "task_data": {"limit": 1000, "method": "trial_division"}}
        answer = httpx.post(f"{base}/submit-task", json=payload, timeout=5)
        assert answer.status_code in (200, 201)
        ids.append(answer.json()["data"]["task_id"])
    assert ids[1] == ids[0] + 1
    assert all(completed(base, task_id)["count"] == 168 for task_id in ids)
    bad = httpx.post(
        f"{base}/submit-task", json={"task_type": "compute", "task_data": {"method": "magic"}}
    )
    assert bad.status_code == 400 and bad.json()["status"] == "error"
    assert httpx.get(f"{base}/task/999999").json() == {
        "status": "error",
        "message": "Task not found",
    }


@pytest.mark.parametrize("method", ["sieve", "trial_division"])
def test_chunkwise_add_task_reports_9592_for_each(compat_live: LiveSystem, method: str) -> None:
    env = {**compat_live.env, "CHUNKWISE_API_URL": compat_live.api_url}
    argv = chunkwise_argv("add-task", "5", "100000", method)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": 9592 primes") == 5
    # Each is a seed 003 task: GET /task/{the id printed} is that task, and its job.
    printed = re.findall(r"task (\d+): job ([0-9a-f-]{36}): 9592 primes", done.stdout)
    assert len(printed) == 5
    for task_id, job_id in printed:
        task = httpx.get(f"{compat_live.api_url}/task/{task_id}").json()["data"]
        assert (task["job_id"], task["count"], task["method"]) == (job_id, 9592, method)
