"""The `chunkwise` command: run the system (`up`, `api`, `worker`) and drive jobs.

What a command prints as its answer goes to stdout, and errors to stderr, so
`chunkwise status ID > job.json` keeps the file for the job. Exit codes tell failures
apart (EXIT_CODES); a store or broker that cannot be reached is one line naming the
setting, with its traceback behind `--debug`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from chunkwise import __version__
from chunkwise.client import ApiError, ApiUnreachable, Client, Job, JobEvent, JobView
from chunkwise.client.calls import Call
from chunkwise.client.errors import error_from_response
from chunkwise.client.token_file import forget_token, kept_token, save_token
from chunkwise.config import Settings, get_settings
from chunkwise.errors import ServiceUnavailableError, StoreSchemaError, StoreUnavailableError

if TYPE_CHECKING:
    from typer._click import Context as ClickContext  # the click Typer bundles

EXIT_FAILED = 1
"""A job ended without a result (`submit --watch`), or another failure."""
EXIT_USAGE = 2
"""A wrong option or argument (Typer's own code), or a setting the command needs is missing."""
EXIT_NOT_FOUND = 3
"""The API answered 404: no such job (or not yours, or expired)."""
EXIT_REFUSED = 4
"""The API answered another 4xx: invalid, unauthorized, forbidden, conflict, rate limited."""
EXIT_UNREACHABLE = 5
"""No answer: the API, the store or the broker cannot be reached, or the API answered 5xx."""
EXIT_CODES = (
    "Exit codes: 0 done; 1 a job ended without a result, or another failure; 2 usage (a "
    "wrong option or argument, a missing setting); 3 not found (404); 4 refused by the API "
    "(another 4xx: invalid, unauthorized, conflict, rate limited); 5 unreachable (the API, "
    "the store or the broker does not answer, or the API answered 5xx)."
)
DEBUG = "chunkwise.debug"
"""Where `--debug` is kept in the command's context (click shares `meta` with subcommands)."""


class ChunkwiseCommand(TyperGroup):
    """The `chunkwise` group: a part that cannot be reached, or a store from a newer
    release, is one line on stderr and an exit code, not a page of traceback."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except (ServiceUnavailableError, StoreSchemaError) as exc:
            if ctx.meta.get(DEBUG):
                raise
            code = EXIT_UNREACHABLE if isinstance(exc, ServiceUnavailableError) else EXIT_FAILED
            _fail(_one_line(exc), code)


app = typer.Typer(
    name="chunkwise",
    cls=ChunkwiseCommand,
    help="Distributed background computation: chunked jobs, live progress, exact results.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)
"""Errors, one line each whatever the terminal's width, on stderr."""


def _show_version(shown: bool) -> None:
    if shown:
        console.print(f"chunkwise {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error, not one line.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Distributed background computation: chunked jobs, live progress, exact results."""
    ctx.meta[DEBUG] = debug


@app.command()
def up(
    workers: Annotated[
        int | None,
        typer.Option(
            help="Processes computing chunks, the pool of one worker node; default "
            "CHUNKWISE_WORKER_CONCURRENCY, else one per core.",
            min=1,
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="API host; default CHUNKWISE_API_HOST.")] = None,
    port: Annotated[
        int | None, typer.Option(help="API port, 0 for a free one; default CHUNKWISE_API_PORT.")
    ] = None,
) -> None:
    """Run the whole system on this machine: broker, workers, API and dashboard."""
    from chunkwise.launcher import LocalSystem
    from chunkwise.supervisor import install_signal_handlers

    settings = get_settings()
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["api_host"] = host
    if port is not None:
        overrides["api_port"] = port
    settings = settings.model_copy(update=overrides)
    _reach_store(settings)
    processes = workers or settings.worker_concurrency or os.cpu_count() or 1
    system = LocalSystem(
        settings, processes=processes, console=console, log_level=settings.log_level
    )
    # Handlers from the start: a Ctrl-C or SIGTERM while the system starts is a stop
    # request that run() honours at once, not a KeyboardInterrupt mid-start.
    restore = install_signal_handlers(system.group.request_stop)
    try:
        with system:
            code = system.run()
    finally:
        restore()
    raise typer.Exit(code)


STREAMS_GRACE_S = 2
"""Seconds a stopping API gives open responses (live progress streams) before it closes them."""


@app.command()
def api(
    host: Annotated[
        str | None, typer.Option(help="Host to bind; default CHUNKWISE_API_HOST.")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port; default CHUNKWISE_API_PORT.")] = None,
    log_level: Annotated[
        str | None, typer.Option(help="uvicorn log level; default CHUNKWISE_LOG_LEVEL (info).")
    ] = None,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (a line each, which costs under load).")
    ] = False,
) -> None:
    """Run the HTTP API alone (the broker and database come from settings).

    uvicorn's "auto" loop and HTTP parser are uvloop and httptools, the fast ones, when
    installed (uvicorn[standard]), and asyncio and h11 otherwise.
    """
    import uvicorn

    from chunkwise.api import create_app

    settings = get_settings()
    _require_broker(settings)
    _reach_store(settings)
    log_level = log_level or settings.log_level
    if host is not None:  # the host bound is one the API answers to (ALLOWED_HOSTS default)
        settings = settings.model_copy(update={"api_host": host})
    from chunkwise.launcher import auth_mode

    application = create_app(settings)
    console.print(auth_mode(settings.auth_on))
    json_logs = settings.log_format == "json"
    if json_logs:
        from chunkwise.logs import use_json_logs

        use_json_logs(log_level)
    uvicorn.run(
        application,
        log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
        host=settings.api_host,
        port=settings.api_port if port is None else port,
        log_level=log_level,
        access_log=access_log,
        loop="auto",
        http="auto",
        # uvicorn believes X-Forwarded-* from 127.0.0.1 unless told otherwise, which would
        # let any local client pick its address; only the configured proxies may.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or [],
        # Live progress streams never end on their own; a stop waits this long for them.
        timeout_graceful_shutdown=STREAMS_GRACE_S,
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            help="Chunks computed at once (pool processes); default "
            "CHUNKWISE_WORKER_CONCURRENCY, else this machine's cores.",
            min=1,
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Node name; default chunkwise-<pid>@<host>.")
    ] = None,
    loglevel: Annotated[
        str | None, typer.Option(help="Celery log level; default CHUNKWISE_LOG_LEVEL (INFO).")
    ] = None,
) -> None:
    """Run a worker node (one per machine): it computes chunks from the broker in a pool
    of processes, and on SIGTERM drains (CHUNKWISE_WORKER_DRAIN_S) before it exits."""
    from chunkwise.worker import run_worker

    settings = get_settings()
    _require_broker(settings)
    _reach_store(settings)
    processes = concurrency or settings.worker_concurrency or os.cpu_count() or 1
    level = (loglevel or settings.log_level).upper()
    run_worker(settings, concurrency=processes, name=name, loglevel=level)


@app.command()
def submit(
    kind: Annotated[str, typer.Argument(help="Workload kind, e.g. prime_count or sum_range.")],
    n: Annotated[int | None, typer.Option(help="Shorthand for --param n=N.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A parameter as key=value (value parsed as JSON)."),
    ] = None,
    chunks: Annotated[int, typer.Option(help="How many chunks.", min=1)] = 8,
    watch: Annotated[bool, typer.Option(help="Show live progress until the job ends.")] = False,
    cache: Annotated[
        bool, typer.Option(help="Take pieces computed before from the chunk cache.")
    ] = True,
    callback_url: Annotated[
        str | None,
        typer.Option(help="POST the job's final view here, signed, when it ends (webhooks)."),
    ] = None,
) -> None:
    """Submit a job through the HTTP API; with --watch, follow it to its result."""
    params = _parse_params(param or [])
    if n is not None:
        params["n"] = n
    with Client() as client:
        job = _or_exit(
            lambda: client.submit(
                kind, params, chunks=chunks, cache=cache, callback_url=callback_url
            )
        )
        state = job.accepted.status if job.accepted is not None else "PENDING"
        console.print(f"job [bold]{job.id}[/] accepted ({state})")
        if watch:
            ended = _watch_or_cancel(job)
            _print_outcome(ended)
            raise typer.Exit(0 if ended.state == "SUCCESS" else 1)


@app.command()
def cancel(job_id: Annotated[str, typer.Argument(help="The job id.")]) -> None:
    """Cancel a running job; its remaining chunks are skipped."""
    with Client() as client:
        job = _or_exit(client.job(job_id).cancel)
    console.print(f"job [bold]{job_id}[/] {job.state}")


@app.command()
def status(job_id: Annotated[str, typer.Argument(help="The job id.")]) -> None:
    """Show one job as JSON."""
    with Client() as client:
        job = _or_exit(client.job(job_id).status)
    console.print_json(job.model_dump_json())


class PrimeMethod(StrEnum):
    sieve = "sieve"
    trial_division = "trial_division"


@app.command()
def flower(
    port: Annotated[int, typer.Option(help="Port of Flower's page.")] = 5555,
    address: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Run Flower, Celery's monitor, on the same broker, behind basic auth
    (CHUNKWISE_FLOWER_BASIC_AUTH=user:password). Flower turns the workers' task events on
    while it runs."""
    import importlib.util

    from chunkwise.engine import create_celery

    if importlib.util.find_spec("flower") is None:
        errors.print("[red]Flower is not installed[/]: pip install 'chunkwise[flower]'")
        raise typer.Exit(EXIT_USAGE)
    settings = get_settings()
    _require_broker(settings)
    user, sep, password = settings.flower_basic_auth.partition(":")
    if not (sep and user and password):
        errors.print(
            "[red]CHUNKWISE_FLOWER_BASIC_AUTH is not set[/] (user:password): Flower shows "
            "every task's arguments, so it does not run without credentials."
        )
        raise typer.Exit(EXIT_USAGE)
    celery = create_celery(settings)
    celery.start(
        [
            "flower",
            f"--port={port}",
            f"--address={address}",
            f"--basic-auth={settings.flower_basic_auth}",
        ]
    )


db_app = typer.Typer(help="The job store's schema.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Make the store's schema, or bring an older store's to this release's revision
    (under a lock, so any number of processes may do it at once). `api`, `worker` and
    `up` do it as they start; this is for a one-shot step before them."""
    from chunkwise.launcher import masked_url
    from chunkwise.store import Store

    settings = get_settings()
    store = Store(settings.resolved_database_url)
    try:
        with _quiet_store():
            change = store.upgrade_schema()
    finally:
        store.dispose()
    where = masked_url(settings.resolved_database_url)
    if change.changed:
        message = f"store at {where} upgraded from {change.before or 'none'} to {change.after}"
    else:
        message = f"store at {where} is at revision {change.after}, this release's newest"
    console.print(message, soft_wrap=True)


@db_app.command("current")
def db_current() -> None:
    """Show the store's schema revision, and this release's newest."""
    from chunkwise.launcher import masked_url
    from chunkwise.store import Store
    from chunkwise.store.schema import head_revision

    settings = get_settings()
    store = Store(settings.resolved_database_url)
    try:
        with _quiet_store():
            current = store.schema_revision()
    finally:
        store.dispose()
    head = head_revision()
    where = masked_url(settings.resolved_database_url)
    if current == head:
        message = f"{current} (head) at {where}"
    elif current is None:
        message = f"none at {where}: `chunkwise db upgrade` makes the schema ({head})"
    else:
        message = f"{current} at {where}; this release's newest is {head}"
    console.print(message, soft_wrap=True)


@app.command("add-task")
def add_task(
    count: Annotated[int, typer.Argument(help="How many prime-finding jobs.", min=1)],
    limit: Annotated[int, typer.Argument(help="Find the primes up to this.", min=2)] = 100_000,
    method: Annotated[
        PrimeMethod, typer.Argument(help="sieve, or trial_division (slow; for comparison).")
    ] = PrimeMethod.trial_division,
) -> None:
    """Submit COUNT tasks listing the primes up to LIMIT to /submit-task, as the task
    queue's add_task.py does; follow them to the end and print each one's task id (what
    GET /task/{id} takes) and prime count."""
    console.print(f"Submitting {count} prime-finding tasks: limit {limit:,}, method {method.value}")
    with Client() as client:
        tasks = [_or_exit(lambda: _submit_task(client, limit, method)) for _ in range(count)]
        counts = _follow_all([job for _, job in tasks])
    for (task_id, job), found in zip(tasks, counts, strict=True):
        console.print(f"  task {task_id}: job {job.id}: {found} primes")
    if any(not isinstance(found, int) for found in counts):
        raise typer.Exit(1)


ADD_TASK_CHUNKS = 4
"""The chunks /submit-task splits a task into (seed 003's surface)."""


def _submit_task(client: Client, limit: int, method: PrimeMethod) -> tuple[int, Job]:
    """POST /submit-task, as add_task.py does: the seed 003 task id, and its job's handle."""
    body = {"task_type": "compute", "task_data": {"limit": limit, "method": method.value}}
    response = client._send(Call("POST", "/submit-task", json=body))
    if response.is_error:
        raise _task_error(response)
    data = response.json()["data"]
    return int(data["task_id"]), client.job(data["job_id"])


def _task_error(response: httpx.Response) -> ApiError:
    """The error of a seed 003 answer, `{"status": "error", "message"}`, with its message."""
    error = error_from_response(response)
    try:
        message = str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return error
    return type(error)(error.status, message, retry_after_s=error.retry_after_s)


def _follow_all(jobs: list[Job]) -> list[int | str]:
    """Follow each job's events in turn on one bar of all their chunks; each one's count,
    or its end state when it did not succeed."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    results: list[int | str] = []
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("jobs", total=len(jobs) * ADD_TASK_CHUNKS)
        done_before = 0
        for job in jobs:
            for event in _or_exit_stream(job):
                progress.update(bar, completed=done_before + event.completed)
                if event.job is not None:
                    results.append(_count_or_state(event.job))
            done_before += ADD_TASK_CHUNKS
    return results


def _count_or_state(job: JobView) -> int | str:
    if job.state == "SUCCESS" and job.result is not None:
        return int(job.result["count"])
    return job.state


@app.command()
def login(
    email: Annotated[str, typer.Option(prompt=True, help="Your account's email.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Your password.")],
) -> None:
    """Sign in; the token is kept in your config dir (mode 0600) for the other commands."""
    with Client(token="") as client:  # a kept token, perhaps expired, is not sent
        token = _or_exit(lambda: client.login(email, password))
    path = save_token(token)
    console.print(f"signed in as {email}; token kept in {path}")


@app.command()
def logout() -> None:
    """Sign out: end the session of the token `chunkwise login` kept, then forget it. The
    token is forgotten even when the API cannot be reached (it then ends on its own, at
    its expiry)."""
    token = kept_token()
    if token is not None:
        try:
            with Client(token=token) as client:
                client.logout()
        except ApiError as exc:  # expired or already ended: nothing left to end
            errors.print(f"the server did not end the session: {escape(str(exc))}")
    forget_token()
    console.print("signed out")


admin_app = typer.Typer(help="Accounts with admin rights (they see every job).")
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Argument(help="The admin's email.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="Password for a new account (an existing one keeps its own).",
        ),
    ],
) -> None:
    """Make an admin account in the store, or give an existing account admin rights."""
    from sqlalchemy.exc import IntegrityError

    from chunkwise.api.accounts.credentials import hash_password
    from chunkwise.store import Store
    from chunkwise.store import accounts as account_rows

    store = Store(get_settings().resolved_database_url)
    store.upgrade_schema()
    try:
        with store.writer() as session:
            account_rows.create_user(
                session, email=email.lower(), password_hash=hash_password(password), admin=True
            )
        console.print(f"admin {email.lower()} created")
    except IntegrityError:
        with store.writer() as session:
            account_rows.make_admin(session, email=email.lower())
        console.print(f"{email.lower()} is now an admin")
    finally:
        store.dispose()


@admin_app.command("revoke")
def admin_revoke(
    email: Annotated[str, typer.Argument(help="The account's email.")],
) -> None:
    """End every session of an account at once and revoke its API tokens; its password
    still signs in (change it, or have its owner change it, if it leaked)."""
    from chunkwise.store import Store
    from chunkwise.store import accounts as account_rows

    store = Store(get_settings().resolved_database_url)
    try:
        store.upgrade_schema()
        with store.writer() as session:
            revoked = account_rows.revoke_account(session, email=email.lower())
    finally:
        store.dispose()
    if revoked is None:
        typer.echo(f"error: no account with email {email.lower()}", err=True)
        raise typer.Exit(1)
    console.print(
        f"{revoked.email}: every session ended, {revoked.api_tokens} API token(s) revoked"
    )


@admin_app.command("webhook-key")
def admin_webhook_key() -> None:
    """Print the key webhook bodies are signed with, for receivers to check
    X-Chunkwise-Signature: CHUNKWISE_WEBHOOK_SECRET, or the one kept in the store."""
    from chunkwise.store import Store
    from chunkwise.store.kept_secrets import WEBHOOK_KEY, setting_or_kept

    settings = get_settings()
    store = Store(settings.resolved_database_url)
    try:
        store.upgrade_schema()
        key = setting_or_kept(
            store, given=settings.webhook_secret, name=WEBHOOK_KEY, legacy_dir=settings.data_dir
        )
    finally:
        store.dispose()
    print(key)


def _watch_or_cancel(job: Job) -> JobView:
    """Watch the job; on Ctrl-C, offer to cancel it, or stop watching and leave it running."""
    try:
        return _watch(job)
    except KeyboardInterrupt:
        pass
    if not typer.confirm(f"Cancel job {job.id}?", default=False):
        console.print(f"stopped watching; job {job.id} keeps running")
        raise typer.Exit(130)
    return _or_exit(job.cancel)


def _watch(job: Job) -> JobView:
    """Follow the job's live events until it ends, drawing a bar of completed chunks."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("PENDING", total=None)
        for event in _or_exit_stream(job):
            progress.update(
                bar, description=event.state, completed=event.completed, total=event.total
            )
            if event.job is not None:
                return event.job
    return _or_exit(job.status)  # pragma: no cover - a stream ends with `end`


def _or_exit_stream(job: Job) -> Iterator[JobEvent]:
    try:
        yield from job.events()
    except ApiError as exc:
        _print_error(exc)
        raise typer.Exit(exit_code(exc)) from None


def _print_outcome(job: JobView) -> None:
    if job.state == "SUCCESS":
        console.print_json(json.dumps(job.result))
    elif job.state == "CANCELLED":
        done, total = job.progress.completed, job.progress.total
        console.print(f"[yellow]CANCELLED[/] after {done}/{total} chunks")
    else:
        console.print(f"[red]{job.state}[/]: {escape(str(job.error))}")


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--param")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


T = TypeVar("T")


def _or_exit(call: Callable[[], T]) -> T:
    """What `call` answers; on an API error, the error printed to stderr and its exit code."""
    try:
        return call()
    except ApiError as exc:
        _print_error(exc)
        raise typer.Exit(exit_code(exc)) from None


def exit_code(exc: ApiError) -> int:
    """The exit code of an API error: not found, refused, or unreachable (EXIT_CODES)."""
    if isinstance(exc, ApiUnreachable) or exc.status is None or exc.status >= 500:
        return EXIT_UNREACHABLE
    return EXIT_NOT_FOUND if exc.status == 404 else EXIT_REFUSED


def _print_error(exc: ApiError) -> None:
    """`error 409: job … has already ended`; the message is the API's, printed as text."""
    errors.print(f"[red]error[/] {escape(str(exc))}")


def _fail(message: str, code: int) -> None:
    errors.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def _one_line(exc: ServiceUnavailableError | StoreSchemaError) -> str:
    """What went wrong, the driver's first line of why, and the setting to look at."""
    if not isinstance(exc, StoreUnavailableError):
        return str(exc)
    from chunkwise.launcher import masked_url

    url = get_settings().resolved_database_url
    cause = exc.__cause__
    why = str(getattr(cause, "orig", None) or cause or "").strip().splitlines()
    reason = f" ({why[0]})" if why else ""
    return (
        f"{exc}{reason} at {masked_url(url)}: check CHUNKWISE_DATABASE_URL "
        "(--debug shows the traceback)"
    )


@contextmanager
def _quiet_store() -> Iterator[None]:
    """The store's own warning of an outage muted while a command reaches it first: the
    command's error says it in one line (see ChunkwiseCommand)."""
    store_log = logging.getLogger("chunkwise.store.db")
    before, store_log.disabled = store_log.disabled, True
    try:
        yield
    finally:
        store_log.disabled = before


def _reach_store(settings: Settings) -> None:
    """Make or upgrade the store's schema before a server starts (`up`, `api`, `worker`), so
    a store that cannot be reached stops it with one line, not deep in its start; the
    data dir that holds the default SQLite store is kept private (0700)."""
    from chunkwise.launcher import keep_data_dir_private
    from chunkwise.store import Store

    if not settings.database_url:
        keep_data_dir_private(settings.data_dir)
    store = Store(settings.resolved_database_url)
    try:
        with _quiet_store():
            store.upgrade_schema()
    finally:
        store.dispose()


def _require_broker(settings: Settings) -> None:
    if not settings.broker_url:
        errors.print(
            "[red]CHUNKWISE_BROKER_URL is not set.[/] Point it at a Redis or RabbitMQ broker, "
            "or run `chunkwise up`, which starts one."
        )
        raise typer.Exit(EXIT_USAGE)


def main() -> None:
    app(prog_name="chunkwise")


if __name__ == "__main__":
    main()
