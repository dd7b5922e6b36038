"""The command line: `chunkwise up` runs and stops the whole system; `submit --watch`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from chunkwise.launcher import chunkwise_argv, free_port, wait_until_healthy
from chunkwise.store import jobs
from chunkwise.supervisor import is_gone
from tests.live import LiveSystem
from tests.waiting import wait_for
from tests.webhooks.receiver import receiving

pytestmark = pytest.mark.integration


def test_submit_watch_shows_progress_and_the_result(live: LiveSystem) -> None:
    env = {**live.env, "CHUNKWISE_API_URL": live.settings.resolved_api_url}
    argv = chunkwise_argv("submit", "prime_count", "--n", "1000000", "--chunks", "32", "--watch")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "SUCCESS" in done.stdout and "32/32" in done.stdout
    assert '"prime_count": 78498' in done.stdout


def test_submit_with_a_callback_url_has_the_job_announced_there(live: LiveSystem) -> None:
    env = {**live.env, "CHUNKWISE_API_URL": live.settings.resolved_api_url}
    with receiving([204]) as receiver:
        argv = chunkwise_argv(
            "submit", "sum_range", "--n", "100", "--chunks", "2", "--callback-url", receiver.url
        )
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        (delivery,) = wait_for(lambda: receiver.got(1), timeout_s=30, what="the webhook")
    announced = json.loads(delivery.body)
    assert announced["job_id"] in done.stdout
    assert (announced["state"], announced["result"]["sum"]) == ("SUCCESS", 5050)


def test_submit_reports_a_rejected_job_and_fails(live: LiveSystem) -> None:
    env = {**live.env, "CHUNKWISE_API_URL": live.settings.resolved_api_url}
    argv = chunkwise_argv("submit", "prime_count", "--n", "9999")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 4  # refused: the API answered 4xx (`chunkwise --help`)
    assert "400" in done.stderr and "params.n" in done.stderr
    assert done.stdout == ""


def processes_started_from(data_dir: Path) -> list[int]:
    """PIDs of live (non-zombie) processes whose environment names `data_dir`."""
    marker = f"CHUNKWISE_DATA_DIR={data_dir}".encode()
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return [pid for pid in pids if marker in _environment(pid) and not is_gone(pid)]


def roles(pids: list[int]) -> list[str]:
    """The chunkwise command each process runs (`up`, `api`, `worker`); forked pool
    processes are not listed twice: only those whose parent runs another command."""
    commands = {pid: _command(pid) for pid in pids}
    parents = {pid: _parent(pid) for pid in pids}
    return [
        command
        for pid, command in commands.items()
        if command and commands.get(parents[pid]) != command
    ]


def _environment(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return []


def _command(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return ""
    return argv[argv.index("chunkwise") + 1] if "chunkwise" in argv[:-1] else ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except OSError:
        return 0


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_up_runs_everything_and_stops_leaving_nothing(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHUNKWISE_")} | {
        "CHUNKWISE_DATA_DIR": str(tmp_path),
        "CHUNKWISE_API_PORT": str(port),
    }
    up = subprocess.Popen(
        chunkwise_argv("up", "--workers", "2"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(
            f"http://127.0.0.1:{port}",
            lambda health: (health.get("workers"), health.get("processes")) == (1, 2),
            what="`chunkwise up` to report one worker node of two processes",
            timeout_s=150,
            exited=lambda: None if up.poll() is None else "`chunkwise up`",
        )
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert roles(processes_started_from(tmp_path)).count("worker") == 1
            job_id = http.post(
                "/api/jobs", json={"kind": "sum_range", "params": {"n": 10_000}, "chunks": 8}
            ).json()["job_id"]
            job = wait_for(
                lambda: (
                    (body := http.get(f"/api/jobs/{job_id}").json())["state"] == "SUCCESS" and body
                ),
                timeout_s=60,
                what="the job",
            )
            assert job["result"]["sum"] == 50005000
        assert (tmp_path / "broker" / "broker.pid").exists()
        up.send_signal(stop_signal)
        assert up.wait(timeout=60) == 0
        wait_for(
            lambda: not processes_started_from(tmp_path),
            timeout_s=30,
            what="every process of `chunkwise up` to exit",
        )
        assert not (tmp_path / "broker" / "broker.pid").exists()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def stored_job(live: LiveSystem) -> str:
    """A PENDING job in the store whose chunks were never published."""
    with live.store.writer() as session:
        job = jobs.create_job(
            session, kind="sum_range", params={"n": 1}, specs=[{"lo": 1, "hi": 1}]
        )
    return str(job.id)


def test_cancel_prints_the_new_state_then_fails_on_an_ended_job(live: LiveSystem) -> None:
    env = {**live.env, "CHUNKWISE_API_URL": live.settings.resolved_api_url}
    job_id = stored_job(live)
    done = subprocess.run(
        chunkwise_argv("cancel", job_id), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "CANCELLED" in done.stdout
    assert live.job(job_id)["state"] == "CANCELLED"
    again = subprocess.run(
        chunkwise_argv("cancel", job_id), env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 4  # refused
    assert "409" in again.stderr and "already ended in CANCELLED" in again.stderr


def test_cancel_of_an_unknown_job_fails_with_404(live: LiveSystem) -> None:
    env = {**live.env, "CHUNKWISE_API_URL": live.settings.resolved_api_url}
    job_id = str(uuid.uuid4())
    done = subprocess.run(
        chunkwise_argv("cancel", job_id), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3  # not found
    assert "404" in done.stderr and job_id in done.stderr


@pytest.mark.parametrize("answer", ["y", "n"])
def test_ctrl_c_while_watching_asks_whether_to_cancel(live: LiveSystem, answer: str) -> None:
    # Given `submit --watch` following a long job that has started
    env = {
        **live.env,
        "CHUNKWISE_API_URL": live.settings.resolved_api_url,
        "PYTHONUNBUFFERED": "1",
    }
    argv = chunkwise_argv(
        "submit",
        "prime_count",
        "--n",
        str(10**11),  # sieved: about 8 s on two workers
        "-p",
        'method="sieve"',
        "--chunks",
        "128",
        "--no-cache",
        "--watch",
    )
    # A shell runs a background job with SIGINT ignored, and children inherit that; the
    # watcher gets Ctrl-C's default, as in a terminal, whatever started the tests.
    watcher = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
    )
    try:
        assert watcher.stdout is not None
        job_id = watcher.stdout.readline().split()[1]
        wait_for(
            lambda: live.job(job_id)["state"] in ("STARTED", "PROGRESS"),
            timeout_s=30,
            what="the watched job to start",
        )
        # When Ctrl-C is pressed and the question answered
        watcher.send_signal(signal.SIGINT)
        out, _ = watcher.communicate(input=f"{answer}\n", timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    # Then the job is cancelled on yes, and left running on no
    assert f"Cancel job {job_id}?" in out
    if answer == "y":
        assert watcher.returncode == 1
        assert "CANCELLED" in out and live.job(job_id)["state"] == "CANCELLED"
    else:
        assert watcher.returncode == 130
        assert f"job {job_id} keeps running" in out
        # Not cancelled: still running, or (on a machine slowed by other work) done since.
        state = live.job(job_id)["state"]
        assert state in ("STARTED", "PROGRESS", "SUCCESS")
        if state != "SUCCESS":
            assert live.http.post(f"/api/jobs/{job_id}/cancel").status_code in (200, 409)


def test_login_keeps_a_private_token_that_submit_sends_and_logout_ends(
    live: LiveSystem, tmp_path: Path
) -> None:
    email, password = f"cli-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery staple"
    registered = live.http.post("/api/auth/register", json={"email": email, "password": password})
    assert registered.status_code == 201, registered.text
    env = {
        **live.env,
        "CHUNKWISE_API_URL": live.settings.resolved_api_url,
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    argv = chunkwise_argv("login", "--email", email, "--password", password)
    signed_in = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert signed_in.returncode == 0, signed_in.stderr
    token_file = tmp_path / "chunkwise" / "token"
    assert token_file.stat().st_mode & 0o777 == 0o600

    argv = chunkwise_argv("submit", "sum_range", "--n", "100", "--chunks", "2", "--watch")
    submitted = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.split("job ", 1)[1].split()[0]
    with live.store.reader() as session:
        job = jobs.get_job(session, job_id=uuid.UUID(job_id))
    assert job is not None and job.owner_id == uuid.UUID(str(registered.json()["id"]))

    # Signing out ends the session on the server: the kept token stops working at once.
    token = token_file.read_text().strip()
    assert live.http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).is_success
    argv = chunkwise_argv("logout")
    signed_out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert signed_out.returncode == 0, signed_out.stderr
    assert not token_file.exists()
    after = live.http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401


def test_status_prints_the_job_as_the_api_answers_it(live: LiveSystem) -> None:
    env = {**live.env, "CHUNKWISE_API_URL": live.settings.resolved_api_url}
    job_id = live.submit("sum_range", {"n": 10**30}, 4)
    answer = live.wait_finished(job_id)
    done = subprocess.run(
        chunkwise_argv("status", job_id), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == answer
    assert answer["result"]["sum"] == 10**30 * (10**30 + 1) // 2
