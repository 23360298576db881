"""`chatfn`: run the local stack (`up`, `status`, `down`), look into it (`trace`, `events`)
and do its chores (`migrate`, `replay`, `web publish`)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvloop
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chatfn.local import observe, provision, replay, scripted_model, traces
from chatfn.local.broker import topics
from chatfn.local.broker.config import load_eventing
from chatfn.local.broker.link import QuietRepeats
from chatfn.local.broker.service import serve
from chatfn.local.stack import DEAD_LETTER_SINK, ServiceStatus, Stack, service_name
from chatfn.settings import asyncpg_url, get_settings
from chatfn.storage import s3_client
from chatfn.telemetry.logs import configure_logging
from chatfn.web import KEEP_OLD_ASSETS, PruneFailed, prune, publish

app = typer.Typer(help="chatfn's docker-free local stack.", no_args_is_help=True)
console = Console()

STATE_STYLES = {
    "healthy": "green",
    "ready": "green",
    "external": "cyan",
    "preparing": "yellow",
    "starting": "yellow",
    "migrating": "yellow",
}


def _progress_table(rows: dict[str, tuple[str, str]]) -> Table:
    table = Table(title="chatfn up", title_justify="left")
    table.add_column("service")
    table.add_column("state")
    table.add_column("detail", overflow="fold")
    for name, (state, detail) in rows.items():
        table.add_row(name, Text(state, style=STATE_STYLES.get(state, "red")), detail)
    return table


@app.command()
def up() -> None:
    """Start every service (embedded unless its URL is set), provision them, run the product."""
    stack = Stack(get_settings())
    rows: dict[str, tuple[str, str]] = {}
    # Without a terminal (CI, logs) a live table repaints nothing: print one line per change.
    live = Live(_progress_table(rows), console=console, auto_refresh=False)

    def report(name: str, state: str, detail: str) -> None:
        rows[name] = (state, detail)
        if console.is_terminal:
            live.update(_progress_table(rows), refresh=True)
        else:
            console.print(f"{name:<9} {state:<10} {detail}", highlight=False)

    started = time.monotonic()
    try:
        with live if console.is_terminal else contextlib.nullcontext():
            settings = asyncio.run(stack.up(report))
    except Exception as exc:
        console.print(f"[red]chatfn up failed:[/red] {exc}", highlight=False)
        console.print(f"Logs: {stack.home / 'logs'}; stop what started with `chatfn down`.")
        raise typer.Exit(1) from exc
    console.print(
        f"[green]chatfn is up[/green] in {time.monotonic() - started:.1f}s: "
        f"http://127.0.0.1:{settings.port}  (logs in {stack.home / 'logs'}; `chatfn down` stops it)"
    )


def _status_table(statuses: list[ServiceStatus]) -> Table:
    table = Table(title="chatfn status", title_justify="left")
    for column in ("service", "where", "process", "health", "detail"):
        table.add_column(column, overflow="fold")
    for status in statuses:
        if not status.embedded:
            process = Text("external", style="cyan")
        elif status.process is None:
            process = Text("stopped", style="red")
        else:
            process = Text(
                f"{status.process.state.lower()} pid {status.process.pid} "
                f"up {status.process.uptime_s}s",
                style="green" if status.process.state == "RUNNING" else "red",
            )
        if status.health.ok:
            health = Text(f"ok {status.health.latency_ms:.0f} ms", style="green")
        elif status.health.preparing:
            health = Text("preparing", style="yellow")
        else:
            health = Text("down", style="red")
        table.add_row(status.name, status.where, process, health, status.health.detail)
    return table


async def _status_view(stack: Stack) -> tuple[bool, RenderableType]:
    """Whether every part answers, and the table; under it the live figures when the stack
    runs Prometheus."""
    statuses = await stack.status()
    view: RenderableType = _status_table(statuses)
    if (prometheus_url := stack.prometheus_url()) is not None:
        dead_letters = stack.eventing.kafka_sinks[DEAD_LETTER_SINK]
        view = Group(view, await observe.live_report(prometheus_url, dead_letters))
    return all(s.health.ok for s in statuses), view


@app.command()
def status(
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="refresh every 2 s until Ctrl-C")
    ] = False,
) -> None:
    """Show what runs where and whether each part answers over its own protocol, and how
    chats go when the stack runs Prometheus."""
    stack = Stack(get_settings())
    healthy, view = asyncio.run(_status_view(stack))
    if watch:
        with Live(view, console=console) as live:
            try:
                while True:
                    time.sleep(2)
                    healthy, view = asyncio.run(_status_view(stack))
                    live.update(view)
            except KeyboardInterrupt:
                pass
    else:
        console.print(view)
    if not healthy:
        raise typer.Exit(1)


@app.command()
def trace(
    reply_id: Annotated[str, typer.Argument(help="the reply's id (or a trace id)")],
    home: Annotated[
        Path | None,
        typer.Option(help="the stack's home, or a folder of traces; default: CHATFN_HOME"),
    ] = None,
) -> None:
    """Print one chat's waterfall: every span recorded for the reply, by every process."""
    try:
        found = traces.trace_of(home or get_settings().home, reply_id)
    except traces.TraceNotFound as exc:
        console.print(
            Text.assemble(
                ("no trace: ", "red"),
                f"{exc}. Spans are recorded only by processes with TRACES_DIR set, as "
                "`chatfn up` sets it unless CHATFN_TELEMETRY=0.",
            )
        )
        raise typer.Exit(1) from exc
    # A fifth of the terminal for the bars: enough to see the hops, room left for the names.
    console.print(traces.waterfall(found, bar_width=max(12, console.width // 5)))


@app.command()
def down() -> None:
    """Stop every process of the local stack; PostgreSQL, Redis and S3 data stay in
    CHATFN_HOME."""
    stack = Stack(get_settings())
    stopped = stack.down()
    if stopped:
        console.print(f"stopped {len(stopped)} processes")
    else:
        console.print("nothing was running")


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="the ingress port on 127.0.0.1")],
    eventing: Annotated[Path, typer.Option(help="folder of Knative YAML to obey")] = Path(
        "eventing"
    ),
) -> None:
    """Run the local Knative Kafka Broker (ingress and a dispatcher per Trigger) until stopped."""
    # JSON lines like every function's; libraries at WARNING, so aiokafka's group chatter
    # and its clients' retries while Kafka is away do not bury the broker's own lines.
    configure_logging("broker")
    for handler in logging.getLogger().handlers:
        handler.addFilter(QuietRepeats())
    stack = Stack(get_settings())
    settings = stack.resolved()
    with contextlib.suppress(KeyboardInterrupt):
        # uvloop: the broker is all sockets, and it halves the cost of each hop.
        uvloop.run(
            serve(
                eventing,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                port=port,
                # Triggers name a function by its Knative Service name.
                functions={service_name(n): url for n, url in stack.function_urls().items()},
                ping_every_s=settings.ping_every_s,
            )
        )


events = typer.Typer(help="Look at the broker's events: the live log and the dead letters.")
app.add_typer(events, name="events")


# Fields whose values are never printed: credentials, and the hashes old events carried.
SECRET_FIELD = re.compile(r"pass|hash|token|secret|key|credential", re.IGNORECASE)
REDACTED = "[redacted]"


def redacted(value: object) -> object:
    """`value` with every field named like a credential redacted, at any depth."""
    if isinstance(value, dict):
        return {
            name: REDACTED if SECRET_FIELD.search(str(name)) else redacted(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value


def _data_text(logged: topics.LoggedEvent, *, show: bool) -> str:
    """The data's size and type; with `show`, a JSON object or array itself, redacted
    (anything else cannot be redacted, so it is never shown)."""
    content_type = logged.attributes.get("datacontenttype", "no content type")
    summary = f"data: {len(logged.value):,} B, {content_type}"
    if not show:
        return summary
    try:
        data = json.loads(logged.value)
    except ValueError:  # not UTF-8 or not JSON
        return f"{summary}, not JSON: not shown"
    if not isinstance(data, dict | list):
        return f"{summary}, a JSON {type(data).__name__}: not shown"
    return f"{summary}\n  {json.dumps(redacted(data), ensure_ascii=False)[:400]}"


def _answer_title(encoded: str) -> str:
    """The title of the problem a subscriber answered with: the error's class, never its
    detail (which may quote what was sent)."""
    try:
        problem = json.loads(base64.b64decode(encoded, validate=True))
    except ValueError:
        return ""
    title = problem.get("title") if isinstance(problem, dict) else None
    return f" {title[:80]!r}" if isinstance(title, str) else ""


def _event_line(logged: topics.LoggedEvent, *, show_data: bool) -> Text:
    """One event for a person: its attributes and its data's size; its data only on request
    and redacted; for a dead letter, the subscriber's status and the error's class."""
    attributes = logged.attributes
    line = Text(f"{attributes.get('time', '')[11:23]:<12} ", style="dim")
    line.append(attributes.get("type", "(no type)"), style="bold cyan")
    subject, source, event_id = (attributes.get(k, "") for k in ("subject", "source", "id"))
    line.append(f"  {subject}  {source}  {event_id}", style="dim")
    if "knativeerrordest" in attributes:
        line.append(f"\n  {attributes.get('knativeerrorcode', 'no answer')} from ", "red")
        line.append(attributes["knativeerrordest"], "red")
        if "knativeerrordata" in attributes:
            line.append(_answer_title(attributes["knativeerrordata"]), "red")
    line.append(f"\n  {_data_text(logged, show=show_data)}")
    return line


@events.command("tail")
def events_tail(
    from_beginning: Annotated[bool, typer.Option(help="start at the oldest event kept")] = False,
    limit: Annotated[int, typer.Option(help="stop after this many (0: never)")] = 0,
) -> None:
    """Print every event the broker accepts, as it arrives, until Ctrl-C."""
    settings = Stack(get_settings()).resolved()
    topic = load_eventing(settings.eventing_dir).topic

    async def follow() -> None:
        seen = 0
        async for event in topics.tail(
            settings.kafka_bootstrap_servers, topic, from_beginning=from_beginning
        ):
            console.print(_event_line(event, show_data=True), highlight=False, soft_wrap=True)
            seen += 1
            if seen == limit:
                return

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow())


@events.command("dlq")
def events_dlq(
    replay: Annotated[bool, typer.Option(help="send them back to the broker")] = False,
    show_data: Annotated[
        bool,
        typer.Option(help="print JSON data too, fields named like password, key... redacted"),
    ] = False,
) -> None:
    """List the dead letters not replayed yet (ids, types, sources, the subscriber's answer
    and the data's size, never the data unless asked); --replay sends them back to the
    broker."""
    settings = Stack(get_settings()).resolved()
    eventing = load_eventing(settings.eventing_dir)
    servers = settings.kafka_bootstrap_servers
    if replay:
        letters = asyncio.run(topics.replay_dead_letters(servers, eventing, settings.k_sink))
    else:
        letters = asyncio.run(topics.pending_dead_letters(servers, eventing))
    for letter in letters:
        console.print(_event_line(letter, show_data=show_data), highlight=False, soft_wrap=True)
    verb = "replayed" if replay else "pending"
    console.print(f"{len(letters)} dead letters {verb}")


@app.command("scripted-model")
def serve_scripted_model(
    port: Annotated[int, typer.Option(help="the port on 127.0.0.1")] = 8099,
) -> None:
    """Serve the deterministic scripted OpenAI-compatible model for tests and benchmarks."""
    scripted_model.serve(port)


@app.command("replay")
def replay_log(
    into: Annotated[str, typer.Option(help="an empty PostgreSQL database, as a URL")],
    topic: Annotated[
        str | None, typer.Option(help="default: the Broker's topic as eventing/ names it")
    ] = None,
) -> None:
    """Rebuild the chat tables (conversations, messages, feedback, preferences) from
    offset 0 of the event log into an empty database, migrated first."""
    settings = Stack(get_settings()).resolved()
    topic = topic or load_eventing(settings.eventing_dir).topic
    started = time.monotonic()
    try:
        replayed = asyncio.run(
            replay.replay(asyncpg_url(into), settings.kafka_bootstrap_servers, topic)
        )
    except (replay.NotEmpty, LookupError, TimeoutError) as exc:
        console.print(f"[red]not replayed:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    for event_type, count in sorted(replayed.applied.items()):
        console.print(f"{count:>9,}  {event_type}", highlight=False)
    console.print(
        f"{sum(replayed.applied.values()):,} facts applied in {time.monotonic() - started:.1f} s; "
        f"{replayed.duplicates} duplicates skipped, {replayed.unreadable} unreadable, "
        f"{replayed.other:,} other events passed by",
        highlight=False,
    )
    if replayed.failed:  # dead-lettered when they were live, most likely: `chatfn events dlq`
        console.print(f"[yellow]{len(replayed.failed)} refused by the database:[/yellow] "
                      f"{', '.join(replayed.failed[:20])}", highlight=False)  # fmt: skip


@app.command()
def migrate() -> None:
    """Apply the Alembic migrations to DATABASE_URL (or the running local stack's database)."""
    settings = Stack(get_settings()).resolved()
    asyncio.run(provision.migrate(settings))
    console.print("database at alembic head")


web = typer.Typer(help="The built web UI: publish it to the CDN's origin bucket.")
app.add_typer(web, name="web")


@web.command("publish")
def web_publish(
    bucket: Annotated[str | None, typer.Option(help="default: WEB_BUCKET")] = None,
    dist: Annotated[Path | None, typer.Option(help="the build; default: CHATFN_WEB_DIR")] = None,
    keep_days: Annotated[
        float, typer.Option(help="how long older builds' assets stay after they were published")
    ] = KEEP_OLD_ASSETS.days,
) -> None:
    """Upload the build with each file's Content-Type and Cache-Control, index.html last,
    then delete the assets of older builds not published for `--keep-days`."""
    settings = Stack(get_settings()).resolved()
    bucket, dist = bucket or settings.web_bucket, dist or settings.web_dir
    client = s3_client(settings)
    try:
        uploads = publish(client, bucket, dist)
        removed = prune(client, bucket, dist, timedelta(days=keep_days))
    except FileNotFoundError as exc:
        console.print(f"[red]nothing to publish:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    except PruneFailed as exc:
        console.print(f"[red]published; old assets not removed:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    for upload in uploads:
        console.print(
            f"{upload.size:>9,} B  {upload.cache_control:<36} {upload.content_type:<32} "
            f"{upload.name}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"removed {len(removed)} assets last published over {keep_days:g} days ago",
        highlight=False,
    )
    console.print(f"published {len(uploads)} files to s3://{bucket}/", highlight=False)
