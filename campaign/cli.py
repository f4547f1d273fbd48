"""The `campaign` command line: parse options, call the library, print the result.

Kept thin (sqlite-utils' habit): every command calls one library function and
turns its errors into one readable message and an exit code:
0 ok, 1 user error (bad story, bad config), 2 usage, 70 internal fault.

`--json` writes one JSON document to standard output and nothing else there;
progress and messages go to standard error.

typer was chosen over plain click for typed options and `--help` built from
the docstrings (each with an example); it is click underneath, so usage errors
exit 2. rich draws the tables and progress bars.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from dotenv import load_dotenv
from rich.console import Console
from rich.table import Table

from campaign.check import CheckReport, run_check
from campaign.config import CONFIG_FILE, Project, load_project
from campaign.errors import CampaignError

INTERNAL_FAULT = 70

app = typer.Typer(
    name="campaign",
    help="Run an awareness-week social media campaign of patient stories.\n\n"
    "Example:\n\n    campaign check",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)


@dataclass
class Options:
    config: Path
    now: datetime | None

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)


@app.callback()
def _options(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Option("--config", "-c", envvar="CAMPAIGN_CONFIG",
                     help="The campaign's settings file; its folder is the repository root."),
    ] = Path(CONFIG_FILE),
    now: Annotated[
        str | None,
        typer.Option("--now", envvar="CAMPAIGN_NOW", hidden=True,
                     help="Pretend it is this time (ISO 8601 with offset); for tests."),
    ] = None,
) -> None:
    moment = None
    if now:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError:
            raise typer.BadParameter(f"{now!r} is not an ISO 8601 time", param_hint="--now") from None
        if moment.tzinfo is None:
            raise typer.BadParameter("give the time with its offset, e.g. +01:00",
                                     param_hint="--now")
    ctx.obj = Options(config=config, now=moment)


@contextmanager
def _handled() -> Iterator[None]:
    """Turn our errors into their message on stderr and their exit code."""
    try:
        yield
    except CampaignError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(exc.exit_code) from None


def _project(ctx: typer.Context) -> Project:
    options: Options = ctx.obj
    return load_project(options.config)


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def _print_problems(report: CheckReport) -> None:
    for problem in report.errors:
        typer.echo(problem.format())
    for problem in report.warnings:
        typer.echo("warning: " + problem.format())


@app.command()
def check(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Write the report as JSON.")] = False,
) -> None:
    """Validate campaign.toml and every story; exit 1 on any error.

    Every file is checked and every problem listed as file:line: field: message.

    Example:

        campaign check
        campaign check --json
    """
    with _handled():
        report = run_check(_project(ctx), ctx.obj.clock())
    if as_json:
        _print_json(report.check_json())
    else:
        _print_problems(report)
        planned = sum(1 for sid in report.plan.days.values() if sid)
        typer.echo(
            f"{'ok' if report.ok else 'not ok'}: {len(report.readings)} story files, "
            f"{planned} planned, {len(report.plan.spares)} spare; "
            f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def plan(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Write the plan as JSON.")] = False,
) -> None:
    """Show the week: each post's story, platform, local due time and caption length.

    Stories with errors are left out (run `campaign check` to see why); exit 1 if any.

    Example:

        campaign plan
        campaign plan --json
    """
    with _handled():
        report = run_check(_project(ctx), ctx.obj.clock())
    if as_json:
        _print_json(report.plan_json())
    else:
        _print_plan(report)
    if not report.ok:
        err.print(f"{len(report.errors)} error(s): run `campaign check` to see them")
        raise typer.Exit(1)


def _print_plan(report: CheckReport) -> None:
    settings = report.project.settings
    table = Table(title=f"{settings.campaign.name} ({settings.campaign.timezone})")
    for column in ("day", "time", "platform", "story", "caption"):
        table.add_column(column)
    for post in report.plan.posts:
        entry = report.post_json(post)
        local = post.due.astimezone(settings.tz)
        length = (
            f"{entry['caption_length']}/{entry['caption_limit']}"
            + (" shortened" if entry["shortened"] else "")
            if entry["caption_length"] is not None
            else "-"
        )
        table.add_row(
            local.strftime("%a %Y-%m-%d"), local.strftime("%H:%M %Z"), post.platform,
            post.story_id, length,
        )
    Console(width=max(100, Console().width)).print(table)
    for day, story_id in report.plan.days.items():
        if story_id is None:
            typer.echo(f"warning: {day} has no story")
    if report.plan.spares:
        typer.echo("spare stories (not posted): " + ", ".join(report.plan.spares))


def main() -> None:
    """Console entry point: read .env, run the command, map unexpected faults to exit 70."""
    env_file = Path(".env")
    if env_file.is_file():
        load_dotenv(env_file, override=False)  # variables already in the environment win
    try:
        app()
    except CampaignError as exc:  # raised outside a command's own handling
        err.print(str(exc), markup=False)
        sys.exit(exc.exit_code)
    except Exception as exc:
        err.print(f"internal error: {type(exc).__name__}: {exc}. This is a bug in campaign; "
                  "please report it with the command you ran.", markup=False)
        sys.exit(INTERNAL_FAULT)
