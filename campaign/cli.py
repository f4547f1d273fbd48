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
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from campaign.configfile import CONFIG_FILE, peek_languages
from campaign.errors import CampaignError
from campaign.i18n import (
    LANG_ENV,
    N_,
    _,
    choose_language,
    format_clock,
    format_day,
    format_moment,
    format_number,
    format_short_day,
    ngettext,
    set_language,
)
from campaign.models import Card, Platform

# Each command imports what it needs when it runs (issue 19): `campaign --help` loads
# typer and the messages only, and `campaign check` never loads the scheduler or the
# platforms' clients. These names are for the type checker.
if TYPE_CHECKING:
    from rich.console import Console

    from campaign.check import CheckReport
    from campaign.config import Project
    from campaign.ledger import Ledger
    from campaign.publish import Publishing

INTERNAL_FAULT = 70


def _typer_app() -> typer.Typer:
    return typer.Typer(
        name="campaign",
        help="Run an awareness-week social media campaign of patient stories.\n\n"
        "Example:\n\n\b\n    campaign check",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # Plain click help: typer's rich help shows every flag as `--json <bool>` with click 8.2+.
        rich_markup_mode=None,
    )


app = _typer_app()


class _Stderr:
    """rich's console on standard error, made when first used (rich takes tens of
    milliseconds to import, and most runs print nothing there)."""

    def __init__(self) -> None:
        self._console: Console | None = None

    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console
            self._console = Console(stderr=True, highlight=False, soft_wrap=True)  # one problem, one line
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        if options == {"markup": False} and all(isinstance(o, str) for o in objects):
            # Plain text, as rich would print it (no markup, no highlighting, no wrapping).
            sys.stderr.write(" ".join(objects) + "\n")
            sys.stderr.flush()
            return
        self.console().print(*objects, **options)


err = _Stderr()


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
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="The language of the messages: nl or en (default: "
                     "ui_language in campaign.toml, else the campaign's language)."),
    ] = None,
) -> None:
    ui_language, campaign_language = peek_languages(config)
    try:
        set_language(choose_language(lang, ui_language, campaign_language))
    except ValueError as exc:
        if lang or os.environ.get(LANG_ENV):
            raise typer.BadParameter(str(exc), param_hint=f"--lang / {LANG_ENV}") from None
        # A wrong ui_language: campaign.toml's own check names its line and the fix.
        set_language(choose_language(None, None, campaign_language))
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
    from campaign.config import load_project
    options: Options = ctx.obj
    return load_project(options.config)


def _week(project: Project, now: datetime) -> CheckReport:
    """The one plan (SPEC §11), with the days and withdrawals of the campaign's ledger,
    read without writing to it."""
    from campaign.check import run_check
    from campaign.ledger import read_facts
    return run_check(project, now, facts=read_facts(project.ledger_target))


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


#: Each kind of warning `--brief` counts: what its message says, and how the count is
#: shown (a function of the count, so that the label is translated when it is shown).
_WARNING_KINDS: list[tuple[str, Callable[[int], str]]] = [
    ("caption.shortened", lambda n: ngettext(
        "{n} shortened caption", "{n} shortened captions", n)),
    ("plan.reserve_story", lambda n: ngettext("{n} reserve story", "{n} reserve stories", n)),
    ("theme.placeholder_logo", lambda n: ngettext("{n} placeholder logo", "{n} placeholder logos", n)),
    ("plan.day_without_story", lambda n: ngettext(
        "{n} day without a story", "{n} days without a story", n)),
    ("hashtag.lower_case", lambda n: ngettext(
        "{n} hashtag in lower case", "{n} hashtags in lower case", n)),
    ("photo.face_cut", lambda n: ngettext(
        "{n} photo whose crop cuts a face", "{n} photos whose crop cuts a face", n)),
    ("photo.too_few_pixels", lambda n: ngettext(
        "{n} photo with too few pixels", "{n} photos with too few pixels", n)),
    ("card.long_quote", lambda n: ngettext("{n} long quote", "{n} long quotes", n)),
]


def _other_warnings(n: int) -> str:
    return ngettext("{n} other warning", "{n} other warnings", n)


def _print_brief(report: CheckReport) -> None:
    """Errors in full; warnings counted by kind, with the files they are about."""
    for problem in report.errors:
        typer.echo(problem.format())
    if not report.warnings:
        return
    counts: dict[Callable[[int], str], list[str]] = {}
    for problem in report.warnings:
        kind = next((k for code, k in _WARNING_KINDS if code == problem.code), _other_warnings)
        counts.setdefault(kind, []).append(problem.file)
    parts = []
    for kind, files in counts.items():
        stories = sorted({Path(f).stem for f in files if f.startswith("stories/")})
        label = kind(len(files)).format(n=len(files))
        if stories and len(stories) <= 3:
            label = _("{count} ({stories})").format(count=label, stories=", ".join(stories))
        elif stories:
            label = _("{count} ({stories})").format(count=label, stories=ngettext(
                "{n} story", "{n} stories", len(stories)).format(n=len(stories)))
        parts.append(label)
    typer.echo(_("warnings: {kinds}: run `campaign check` to see each with its fix").format(
        kinds="; ".join(parts)))


def _print_problems(report: CheckReport) -> None:
    for problem in report.errors:
        typer.echo(problem.format())
    for problem in report.warnings:
        typer.echo(_("warning: {problem}").format(problem=problem.format()))


@app.command()
def check(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Write the report as JSON.")] = False,
    brief: Annotated[bool, typer.Option(
        "--brief", help="Every error, but the warnings counted by kind.")] = False,
) -> None:
    """Validate campaign.toml and every story; exit 1 on any error.

    Every file is checked and every problem listed as file:line: field: message.

    Example:

    \b
        campaign check
        campaign check --brief
        campaign check --json
    """
    with _handled():
        report = _week(_project(ctx), ctx.obj.clock())
    if as_json:
        _print_json(report.check_json())
    else:
        if brief:
            _print_brief(report)
        else:
            _print_problems(report)
        typer.echo(_check_summary(report))
    if not report.ok:
        raise typer.Exit(1)


def _check_summary(report: CheckReport) -> str:
    """`ok: 8 story files, 7 planned, 1 spare; 0 error(s), 17 warning(s)`."""
    planned = sum(1 for sid in report.plan.days.values() if sid)
    files, spares = len(report.readings), len(report.plan.spares)
    errors, warnings = len(report.errors), len(report.warnings)
    line = (_("ok: {files}, {planned}, {spares}; {errors}, {warnings}") if report.ok
            else _("not ok: {files}, {planned}, {spares}; {errors}, {warnings}"))
    return line.format(
        files=ngettext("{n} story file", "{n} story files", files).format(n=files),
        planned=ngettext("{n} planned", "{n} planned", planned).format(n=planned),
        spares=ngettext("{n} spare", "{n} spare", spares).format(n=spares),
        errors=ngettext("{n} error(s)", "{n} error(s)", errors).format(n=errors),
        warnings=ngettext("{n} warning(s)", "{n} warning(s)", warnings).format(n=warnings))


@app.command()
def plan(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Write the plan as JSON.")] = False,
) -> None:
    """Show the week: each post's story, platform, local due time and caption length.

    Stories with errors are left out (run `campaign check` to see why); exit 1 if any.

    Example:

    \b
        campaign plan
        campaign plan --json
    """
    with _handled():
        report = _week(_project(ctx), ctx.obj.clock())
    if as_json:
        _print_json(report.plan_json())
    else:
        _print_plan(report)
    if not report.ok:
        err.print(ngettext("{n} error(s): run `campaign check` to see them",
                           "{n} error(s): run `campaign check` to see them",
                           len(report.errors)).format(n=len(report.errors)), markup=False)
        raise typer.Exit(1)


@app.command()
def render(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Draw every card again, even when its cache is valid.")
    ] = False,
) -> None:
    """Render the cards of every valid story, in every format its platforms use, into build/cards/.

    An unchanged story is not drawn again (cards are cached by a hash of their
    story fields, photo, theme and fonts); the summary says how many came from
    the cache. Stories with errors are skipped (run `campaign check`); exit 1 if any.

    Example:

    \b
        campaign render
        campaign render --force
    """
    import logging

    from campaign.cards import render_all, story_formats

    class _ToStderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            err.print(_("note: {message}").format(message=record.getMessage()), markup=False)

    with _handled():
        project = _project(ctx)
        report = _week(project, ctx.obj.clock())
        stories = report.stories
        handler = _ToStderr(logging.WARNING)
        cards_log = logging.getLogger("campaign.cards")
        cards_log.addHandler(handler)
        cards: list[Card] = []
        try:
            if not sys.stderr.isatty():  # a log or a pipe: the summary below says it all
                cards = render_all(stories, project, force=force)
            else:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

                total = sum(len(story_formats(s, project.settings)) for s in stories)
                with Progress(
                    TextColumn(_("rendering cards")), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.description}"), console=err.console(), transient=False,
                ) as bar:
                    task = bar.add_task("", total=total)

                    def advance(card: Card) -> None:
                        cards.append(card)
                        bar.update(task, advance=1, description=f"{card.story_id} {card.format}")

                    render_all(stories, project, force=force, progress=advance)
        finally:
            cards_log.removeHandler(handler)
    cached = sum(1 for c in cards if c.cached)
    folder = project.relative(project.build_dir / "cards")
    err.print(ngettext("{n} card in {folder}/: {rendered} rendered, {cached} cached",
                       "{n} cards in {folder}/: {rendered} rendered, {cached} cached",
                       len(cards)).format(n=len(cards), folder=folder,
                                          rendered=len(cards) - cached, cached=cached),
              markup=False)
    skipped = {p.file for p in report.errors}
    if skipped:
        err.print(ngettext(
            "{n} story file(s) with errors skipped: run `campaign check` to see why",
            "{n} story file(s) with errors skipped: run `campaign check` to see why",
            len(skipped)).format(n=len(skipped)), markup=False)
        raise typer.Exit(1)


_PLAN_COLUMNS = (N_("day"), N_("time"), N_("platform"), N_("story"), N_("caption"))


def _print_plan(report: CheckReport) -> None:
    from rich.console import Console
    from rich.table import Table
    settings = report.project.settings
    table = Table(title=f"{settings.campaign.name} ({settings.campaign.timezone})")
    for column in _PLAN_COLUMNS:
        table.add_column(_(column))
    for post in report.plan.posts:
        entry = report.post_json(post)
        local = post.due.astimezone(settings.tz)
        length = (
            f"{entry['caption_length']}/{entry['caption_limit']}"
            + (" " + _("shortened") if entry["shortened"] else "")
            if entry["caption_length"] is not None
            else "-"
        )
        table.add_row(
            format_short_day(local), f"{format_clock(local)} {local.strftime('%Z')}", post.platform,
            post.story_id, length,
        )
    Console(width=max(100, Console().width)).print(table)
    for day, story_id in report.plan.days.items():
        if story_id is None:
            typer.echo(_("warning: {day} has no story").format(day=format_short_day(day)))
    if report.plan.spares:
        typer.echo(_("spare stories (not posted): {stories}").format(
            stories=", ".join(report.plan.spares)))


# -- the ledger: post, status, approve, pause, resume, withdraw ----------------------

def _ledger(project: Project) -> Ledger:
    from campaign.ledger import Ledger
    return Ledger.open(project.ledger_target)


#: A story file's fate (models.FateKind) as `status` shows it.
_FATE_WORDS = {
    "planned": N_("planned"), "spare": N_("reserve story"), "invalid": N_("error"),
    "withdrawn": N_("withdrawn"), "ignored": N_("not read"),
}
_STATUS_COLUMNS = (N_("due"), N_("platform"), N_("story"), N_("state"), N_("attempts"),
                   N_("url / last error"))


def _when(moment: str | None) -> str:
    """An ISO time of `status` (in the campaign's zone) as staff read it: `Mon 8 Mar 09:00`."""
    if not moment:
        return "-"
    local = datetime.fromisoformat(moment)
    return f"{format_short_day(local)} {format_clock(local)}"


RehearsalOption = Annotated[bool, typer.Option(
    "--rehearsal", help="Act on the rehearsal that is running (or the latest, or --workdir).")]
RealOption = Annotated[bool, typer.Option(
    "--real", help="Act on the real campaign even while a rehearsal is running.")]
WorkdirOption = Annotated[Path | None, typer.Option(
    "--workdir", help="With --rehearsal: that rehearsal's folder (state/rehearsals/...).")]


@dataclass
class Target:
    """What a control command acts on: the real campaign, or a rehearsal (with its clock
    and its sandbox)."""

    project: Project
    now: datetime
    env: dict[str, str]
    rehearsal: bool = False
    platform_time: Callable[[datetime], datetime] = lambda moment: moment
    clock: Callable[[], datetime] | None = None  # the time again, later (a rehearsal's clock)
    link: Callable[[str, str], str] | None = None  # a rehearsal's posts link to its saved feeds

    def publishing(self, ledger: Ledger) -> Publishing:
        from campaign.publish import Publishing
        return Publishing(project=self.project, ledger=ledger, env=self.env,
                          rehearsal=self.rehearsal, platform_time=self.platform_time,
                          clock=self.clock, link=self.link)


def _target(ctx: typer.Context, rehearsal: bool, real: bool, workdir: Path | None,
            doing: str | None) -> Target:
    """The campaign a control command acts on: the real one, or a rehearsal.

    While a rehearsal runs, a command that changes something (`doing`) must say which
    one it means: nothing tried during a rehearsal reaches the real ledger by accident.
    """
    from campaign.errors import UserError
    from campaign.rehearsal import feed_link, open_rehearsal, running_rehearsals

    options: Options = ctx.obj
    project = _project(ctx)
    if rehearsal and real:
        raise UserError(_("give --rehearsal or --real, not both"))
    if rehearsal or workdir is not None:
        target = open_rehearsal(project, workdir)
        err.print(_("rehearsal: {folder}").format(folder=project.relative(target.workdir)),
                  markup=False)
        return Target(target.project, options.now or target.clock.now(), target.env,
                      rehearsal=True, platform_time=target.clock.wall,
                      clock=None if options.now else target.clock.now,
                      link=feed_link(target.workdir / "feeds"))
    if not real and doing:
        running = running_rehearsals(project)
        if running:
            folder, pid = running[0]
            raise UserError(_(
                "a rehearsal is running ({folder}, pid {pid}): to {doing} the rehearsal, "
                "add --rehearsal; to {doing} the real campaign, add --real").format(
                    folder=project.relative(folder), pid=pid, doing=_(doing)))
    return Target(project, options.clock(), dict(os.environ))


def _known_to_ledger(project: Project, story: str) -> bool:
    from campaign.ledger import read_facts
    return story in read_facts(project.ledger_target).pinned


def _actor(by: str | None) -> str:
    return by or os.environ.get("USER") or "unknown"


@app.command()
def post(
    ctx: typer.Context,
    story: Annotated[str, typer.Argument(help="The story id: its file name without .md.")],
    platform: Annotated[Platform, typer.Option("--platform", "-p", help="Where to post it.")],
    rehearsal: RehearsalOption = False,
    real: RealOption = False,
    workdir: WorkdirOption = None,
) -> None:
    """Publish one post now, through the same path as the scheduler.

    Refuses when paused, withdrawn, without valid consent, or (with require_approval)
    not approved; a post already posted is never sent again. A post that failed or
    was missed is tried again (recorded in the ledger as reopened, by you).

    Example:

    \b
        campaign post 01-marieke --platform mastodon
        campaign post 01-marieke --platform mastodon --rehearsal
    """
    from campaign.publish import publish_post
    from campaign.status import state_label
    with _handled():
        target = _target(ctx, rehearsal, real, workdir, N_("post in"))
        with _ledger(target.project) as ledger:
            # A person asked for it: a failed or missed post may go out again.
            outcome = publish_post(target.publishing(ledger), story, platform, target.now,
                                   reopen_by=_actor(None))
    line = (_("{state}: {story} on {platform}: {url} {message}") if outcome.url
            else _("{state}: {story} on {platform}: {message}"))
    typer.echo(line.format(state=state_label(outcome.state), story=story, platform=platform,
                           url=outcome.url, message=outcome.message).rstrip())
    if outcome.state != "posted":
        raise typer.Exit(1)


@app.command()
def report(
    ctx: typer.Context,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Fetch every post's numbers from the platforms now, first.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Write the report as JSON.")] = False,
    csv_file: Annotated[Path | None, typer.Option(
        "--csv", help="Also write one row per post and number to this CSV file.")] = None,
    rehearsal: RehearsalOption = False,
    workdir: WorkdirOption = None,
) -> None:
    """What the week achieved: views, reach and reactions per story and platform.

    Writes build/report/index.html (one page that works offline, printable, readable on a
    phone) from the numbers the scheduler fetches; a number a platform does not give, or
    may not be read, says why instead.

    Example:

    \b
        campaign report
        campaign report --refresh --csv results.csv
        campaign report --rehearsal
    """
    from campaign.metrics import collect
    from campaign.platforms import display_name
    from campaign.report import METRIC_LABELS, make_report, report_json, write_csv, write_report

    with _handled():
        target = _target(ctx, rehearsal, False, workdir, None)
        project = target.project
        titles = {s.id: s.title for s in _week(project, target.now).stories}
        with _ledger(project) as ledger:
            now = target.now
            if target.rehearsal:  # the rehearsal's clock runs on: its numbers' own time
                now = ledger.last_metrics_fetch() or now
            if refresh:
                publishing = target.publishing(ledger)
                done = collect(ledger, publishing.publisher, target.now,
                               platform_now=target.platform_time(target.now))
                now = target.now
                err.print(ngettext("numbers fetched for {n} post", "numbers fetched for {n} posts",
                                   done.posts).format(n=done.posts), markup=False)
                for platform, why in done.problems.items():
                    err.print(f"  {display_name(platform)}: {why}", markup=False)
            result = make_report(project, ledger, now, titles)
        page = write_report(result, project)
        written = write_csv(result, csv_file) if csv_file is not None else None
    if as_json:
        _print_json(report_json(result, page, written))
        return
    typer.echo(_("The results: {page}").format(page=page.as_uri()))
    if written is not None:
        typer.echo(_("The numbers as CSV: {file}").format(file=written))
    shown = [m for m in ("views", "reach", "likes", "reposts", "replies")
             if result.totals[m].value is not None]
    for metric in shown:
        total = result.totals[metric]
        typer.echo(f"  {_(METRIC_LABELS[metric])}: {format_number(total.value or 0)}")
    if not result.posts:
        typer.echo(_("Nothing has been posted yet, so there are no numbers to show."))
    for platform, why in result.problems.items():
        typer.echo("  " + _("{platform}: {reason}").format(platform=display_name(platform),
                                                          reason=why))


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Write the status as JSON.")] = False,
    rehearsal: RehearsalOption = False,
    workdir: WorkdirOption = None,
) -> None:
    """Every post's state, platform id and URL, attempts and last error; the scheduler's heartbeat.

    Also every story file's fate (planned, reserve, error, withdrawn, not read).

    Example:

    \b
        campaign status
        campaign status --json
        campaign status --rehearsal
    """
    from rich.console import Console
    from rich.table import Table

    from campaign.rehearsal import running_rehearsals
    from campaign.status import machines_line, state_label, status_report

    with _handled():
        target = _target(ctx, rehearsal, False, workdir, None)
        with _ledger(target.project) as ledger:
            document = status_report(target.project, ledger, target.now, clock=target.clock)
        running = [] if target.rehearsal else running_rehearsals(target.project)
    if as_json:
        _print_json(document)
        return
    scheduler = document["scheduler"]
    if scheduler["heartbeat"] is None:
        typer.echo(_("scheduler: has never run on this ledger"))
    else:
        typer.echo(_("scheduler: {alive} (pid {pid}, last heartbeat {heartbeat}, "
                     "{age} s ago)").format(
            alive=_("alive") if scheduler["alive"] else _("NOT RUNNING"), pid=scheduler["pid"],
            heartbeat=format_moment(datetime.fromisoformat(scheduler["heartbeat"])),
            age=scheduler["heartbeat_age_seconds"]))
    machines = machines_line(document)
    if machines is not None:
        typer.echo(machines)
    if document["paused"]:
        typer.echo(_("posting is PAUSED: run `campaign resume` to post again"))
    table = Table()
    for column in _STATUS_COLUMNS:
        table.add_column(_(column))
    for entry in document["posts"]:
        table.add_row(_when(entry["due"]), entry["platform"], entry["story"],
                      state_label(entry["state"]), str(entry["attempts"]),
                      entry["url"] or entry["last_error"] or entry["reason"] or "")
    Console(width=max(120, Console().width)).print(table)
    for entry in document["stories"]:
        if entry["attention"] or entry["fate"] == "withdrawn":
            fate = _(_FATE_WORDS.get(entry["fate"], entry["fate"]))
            typer.echo(_("{file}: {fate}: {reason}").format(
                file=entry["file"], fate=fate, reason=entry["reason"] or "").rstrip(": "))
    if running:
        typer.echo(_("a rehearsal is running ({folder}): see it with "
                     "`campaign status --rehearsal`").format(
            folder=target.project.relative(running[0][0])))


@app.command()
def approve(
    ctx: typer.Context,
    story: Annotated[str, typer.Argument(help="The story id: its file name without .md.")],
    by: Annotated[str, typer.Option("--by", help="Who approves (recorded in the ledger).")],
    rehearsal: RehearsalOption = False,
    real: RealOption = False,
    workdir: WorkdirOption = None,
) -> None:
    """Record that this version of the story is approved for posting (four eyes).

    The approval is tied to the story's content (front matter, body, photo): an
    edit afterwards holds it again until it is approved again.

    Example:

    \b
        campaign approve 01-marieke --by "Anna de Vries"
        campaign approve 01-marieke --by "Anna de Vries" --rehearsal
    """
    from campaign.errors import PostRefused
    from campaign.publish import read_story_bounded
    with _handled():
        target = _target(ctx, rehearsal, real, workdir, N_("approve in"))
        reading = read_story_bounded(target.project, story)
        if reading.story is None:
            raise PostRefused(_("{problems}: fix the story before approving it").format(
                problems="; ".join(p.format() for p in reading.problems)))
        with _ledger(target.project) as ledger:
            ledger.approve(story, reading.story.content_hash, by, target.now)
    typer.echo(_("approved: {story} (version {version}) by {by}").format(
        story=story, version=reading.story.content_hash[:12], by=by))


@app.command()
def pause(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option("--by", help="Who pauses (recorded).")] = None,
    rehearsal: RehearsalOption = False,
    real: RealOption = False,
    workdir: WorkdirOption = None,
) -> None:
    """Stop all posting until `campaign resume`; a running scheduler honours it before every post.

    Example:

    \b
        campaign pause --by "Anna de Vries"
        campaign pause --rehearsal
    """
    _set_paused(ctx, True, by, rehearsal, real, workdir)
    typer.echo(_("paused: nothing is posted until `campaign resume`"))


@app.command()
def resume(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option("--by", help="Who resumes (recorded).")] = None,
    rehearsal: RehearsalOption = False,
    real: RealOption = False,
    workdir: WorkdirOption = None,
) -> None:
    """Start posting again after `campaign pause`.

    Example:

    \b
        campaign resume --by "Anna de Vries"
        campaign resume --rehearsal
    """
    _set_paused(ctx, False, by, rehearsal, real, workdir)
    typer.echo(_("resumed: posting goes on"))


def _set_paused(ctx: typer.Context, paused: bool, by: str | None, rehearsal: bool, real: bool,
                workdir: Path | None) -> None:
    with _handled():
        target = _target(ctx, rehearsal, real, workdir, N_("pause") if paused else N_("resume"))
        with _ledger(target.project) as ledger:
            ledger.set_paused(paused, _actor(by), target.now)


@app.command()
def withdraw(
    ctx: typer.Context,
    story: Annotated[str, typer.Argument(help="The story id: its file name without .md.")],
    by: Annotated[str | None, typer.Option("--by", help="Who records the withdrawal.")] = None,
    rehearsal: RehearsalOption = False,
    real: RealOption = False,
    workdir: WorkdirOption = None,
) -> None:
    """Consent withdrawn: cancel the story's pending posts and delete its published ones.

    Deletes on every platform whose API allows it, removes its cards, says where
    a human must delete by hand, and never posts the story again.

    Example:

    \b
        campaign withdraw 04-henk --by "Anna de Vries"
        campaign withdraw 04-henk --rehearsal
    """
    from campaign.alerts import Alerter
    from campaign.errors import PostRefused
    from campaign.publish import withdraw_story
    from campaign.storyfiles import find_story_file, unknown_story
    with _handled():
        target = _target(ctx, rehearsal, real, workdir, N_("withdraw a story from"))
        project, now = target.project, target.now
        if find_story_file(project, story) is None and not _known_to_ledger(project, story):
            raise PostRefused(unknown_story(project, story))
        with _ledger(project) as ledger:
            report = withdraw_story(target.publishing(ledger), story, _actor(by), now)
            # Once per withdrawal; if it cannot be delivered now, a running scheduler retries it.
            Alerter(project.settings.alerts, ledger, dict(os.environ),
                    campaign_name=project.settings.campaign.name).alert(
                f"withdrawn:{story}", report.text(), now)
    typer.echo(_("withdrawn: {story} will never be posted again").format(story=story))
    if report.cancelled:
        typer.echo(_("cancelled (not yet posted): {platforms}").format(
            platforms=", ".join(report.cancelled)))
    if report.deleted:
        typer.echo(_("deleted: {platforms}").format(platforms=", ".join(report.deleted)))
    for platform, url in report.by_hand:
        typer.echo(_("DELETE BY HAND on {platform}: {url}").format(
            platform=platform, url=url or _("find the post on the account")))
    for platform, error in report.failed:
        typer.echo(_("NOT DELETED on {platform}: {error}: run `campaign withdraw {story}` "
                     "again").format(platform=platform, error=error, story=story))
    if report.failed:
        raise typer.Exit(1)


# -- the scheduler ---------------------------------------------------------------------

@app.command()
def run(
    ctx: typer.Context,
    sandbox: Annotated[bool, typer.Option(
        "--sandbox", help="Rehearse against a local sandbox, with its own ledger.")] = False,
    day_seconds: Annotated[float | None, typer.Option(
        "--day-seconds", metavar="N", help="Rehearsal only: wall-clock seconds per campaign day.")] = None,
    until_done: Annotated[bool, typer.Option(
        "--until-done", help="Exit once every planned post is final.")] = False,
    faults: Annotated[str | None, typer.Option(
        "--faults", metavar="demo|FILE",
        help="Rehearsal only: 'demo' or a JSON file of sandbox faults to inject.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Rehearsal only: write the summary as JSON.")] = False,
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", metavar="DIR",
        help="Rehearsal only: its folder; an existing one is resumed, clock and all.")
    ] = None,
    sandbox_url: Annotated[str | None, typer.Option(
        "--sandbox-url", metavar="URL", envvar="CAMPAIGN_SANDBOX_URL",
        help="Rehearsal only: use this running sandbox (see `campaign sandbox`).")] = None,
) -> None:
    """Run the campaign week unattended: post each story on time, exactly once.

    With --sandbox, rehearse the whole week against local fake platforms, each
    campaign day compressed to --day-seconds of wall time, with its own ledger.

    Example:

    \b
        campaign run
        campaign run --sandbox --day-seconds 6 --until-done --faults demo
    """
    from campaign.alerts import Alerter
    from campaign.lead import run_scheduler
    from campaign.ledger import scheduler_lock
    from campaign.publish import Publishing, warm_up
    from campaign.rehearsal import load_faults, rehearse
    from campaign.scheduler import RealClock, Scheduler
    # A rehearsal tells its week on standard output and writes the detail to its log
    # file; only errors of campaign itself reach the terminal as log lines.
    _configure_logging(quiet=as_json, only_errors=sandbox and not as_json)
    if not sandbox and (day_seconds is not None or faults or as_json or workdir):
        raise typer.BadParameter("--day-seconds, --faults, --workdir and --json need --sandbox")
    with _handled():
        project = _project(ctx)
        if sandbox:
            result = rehearse(project, day_seconds=day_seconds or 8.0, until_done=until_done,
                              faults=load_faults(faults), workdir=workdir,
                              sandbox_url=sandbox_url, narrate=None if as_json else typer.echo)
            if as_json:
                _print_json(result.summary)
            else:
                _print_rehearsal(result.summary)
            return
        with scheduler_lock(project.ledger_target), _ledger(project) as ledger:
            env = dict(os.environ)
            publishing = Publishing(project=project, ledger=ledger, env=env)
            alerter = Alerter(project.settings.alerts, ledger, env,
                              campaign_name=project.settings.campaign.name)
            err.print(_("campaign run: {name}, ledger {ledger}; stop with Ctrl-C or SIGTERM").format(
                name=project.settings.campaign.name,
                ledger=project.ledger_shown), markup=False)
            alerter.announce()  # once: which alert channels work
            # On a shared database (two machines), it posts only while it leads (lead.py);
            # a standby loads what posting needs while it waits, not once it leads.
            warm_up()
            run_scheduler(ledger, lambda: Scheduler(project, ledger, publishing, alerter,
                                                    RealClock(), until_done=until_done),
                          say=lambda line: err.print(line, markup=False))


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on; only this machine (127.0.0.1) unless you say so.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    rehearsal: Annotated[bool, typer.Option(
        "--rehearsal", help="Show the rehearsal that is running (or the latest), not the real week.")
    ] = False,
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", metavar="DIR", help="With --rehearsal: that rehearsal's folder.")] = None,
) -> None:
    """The workspace in the browser: the week, live status, writing and approving stories,
    pause, withdrawal, who did what, and rehearsals; until Ctrl-C.

    Sign in with an account made by `campaign users add`. It listens on this machine only;
    colleagues reach it through the organisation's HTTPS reverse proxy (see the README).

    Example:

        campaign users add anna --role admin
        campaign serve --rehearsal
        campaign serve --port 8080
    """
    from campaign.ledger import Ledger
    from campaign.workspace.app import serve as run_workspace

    _configure_logging()
    with _handled():
        project = _project(ctx)
        if rehearsal or workdir is not None:
            from campaign.rehearsal import find_rehearsal

            find_rehearsal(project, workdir)  # a clear message now if there is none
        with Ledger.open(project.ledger_target) as ledger:
            if not ledger.users():
                err.print(_("there is no account yet: make one with "
                            "`campaign users add NAME --role admin`"), markup=False)
        shown = (_("workspace on {url} (a rehearsal); stop with Ctrl-C") if rehearsal or workdir
                 else _("workspace on {url} (the real campaign); stop with Ctrl-C"))
        err.print(shown.format(url=f"http://{host}:{port}/"), markup=False)
        run_workspace(project, host, port, rehearsal=rehearsal or workdir is not None,
                      workdir=workdir)


users_app = typer.Typer(help="The workspace's accounts: add, list, remove, reset a password.\n\n"
                        "Example:\n\n\b\n    campaign users add anna --role approver",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")


def _new_password(password_stdin: bool) -> str:
    import getpass

    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(_("password (at least 10 characters): "))
    if getpass.getpass(_("the same again: ")) != first:
        from campaign.errors import UserError

        raise UserError(_("the two passwords differ: run the command again"))
    return first


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The name people sign in with.")],
    role: Annotated[str, typer.Option("--role", help="editor, approver or admin.")] = "editor",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (for scripts).")] = False,
) -> None:
    """Add an account; the password is asked for, never given on the command line.

    Example:

        campaign users add anna --role approver
    """
    from campaign.accounts import add_user

    with _handled():
        project = _project(ctx)
        password = _new_password(password_stdin)
        with _ledger(project) as ledger:
            add_user(ledger, name, role, password, datetime.now(UTC), by=_actor(None))
    typer.echo(_("account added: {name} ({role})").format(name=name, role=role))


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """The accounts, with their roles.

    Example:

        campaign users list
    """
    with _handled(), _ledger(_project(ctx)) as ledger:
        for name, role, since in ledger.users():
            typer.echo(_("{name}\t{role}\tsince {day}").format(
                name=name, role=role, day=format_day(since.date(), year=True)))


@users_app.command("remove")
def users_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account to remove.")],
) -> None:
    """Remove an account (it is signed out everywhere at once).

    Example:

        campaign users remove anna
    """
    from campaign.errors import UserError

    with _handled(), _ledger(_project(ctx)) as ledger:
        if not ledger.remove_user(name, datetime.now(UTC), by=_actor(None)):
            raise UserError(_("there is no account {name!r}: see `campaign users list`").format(
                name=name))
    typer.echo(_("account removed: {name}").format(name=name))


@users_app.command("reset-password")
def users_reset_password(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account.")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (for scripts).")] = False,
) -> None:
    """Set a new password (the account is signed out everywhere).

    Example:

        campaign users reset-password anna
    """
    from campaign.accounts import hash_password
    from campaign.errors import UserError

    with _handled():
        project = _project(ctx)
        password = _new_password(password_stdin)
        with _ledger(project) as ledger:
            if not ledger.set_password(name, hash_password(password), datetime.now(UTC),
                                       by=_actor(None)):
                raise UserError(_("there is no account {name!r}: see `campaign users list`").format(
                    name=name))
    typer.echo(_("new password set for {name}").format(name=name))


@app.command()
def sandbox(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8931,
    env_file: Annotated[Path | None, typer.Option(
        "--env-file", help="Write a dotenv file with every variable that points campaign here.")] = None,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on; only this machine (127.0.0.1) unless you say so.")
    ] = "127.0.0.1",
) -> None:
    """Run the local fake platforms, with their feed pages, until Ctrl-C.

    Example:

    \b
        campaign sandbox --port 8931 --env-file .env.sandbox

    then, in another shell: set -a; . ./.env.sandbox; set +a; campaign post STORY --platform x
    """
    import time

    from campaign.errors import UserError
    from campaign.sandbox import Sandbox, SandboxError

    with _handled():
        server = Sandbox(host, port)
        try:
            url = server.start()
        except SandboxError as exc:
            raise UserError(str(exc)) from None
        try:
            if env_file is not None:
                server.write_env_file(env_file)
                err.print(f"wrote {env_file}: run `set -a; . {env_file}; set +a` to use it",
                          markup=False)
            err.print(f"sandbox running on {url}: feeds at {url}/ (Ctrl-C stops it)", markup=False)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            err.print("sandbox stopped", markup=False)
        finally:
            server.stop()


def _configure_logging(quiet: bool = False, only_errors: bool = False) -> None:
    import logging

    from campaign.secrets import RedactingFilter, quiet_leaky_loggers
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    handler.setLevel(logging.ERROR if only_errors else logging.INFO)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # The scheduler logs each outcome; the publishers' own lines would say it twice.
    logging.getLogger("campaign.publishers").setLevel(logging.WARNING)
    quiet_leaky_loggers()


def _print_rehearsal(summary: dict[str, Any]) -> None:
    """The end of the rehearsal's account: what the week came to, and what to look at."""
    from campaign.rehearsal import summary_lines

    for line in summary_lines(summary):
        typer.echo(line)


@app.command()
def preview(ctx: typer.Context) -> None:
    """Write the week as one HTML page (build/preview/index.html) and print its path.

    Per day and platform: the card, the caption as the platform shows it (with the
    "meer" fold), its count against the limit, the alt text and every warning; at
    the top, whether `campaign check` passes. It works offline: open it in a browser.
    Exit 1 when check fails (the page is written all the same).

    Example:

    \b
        campaign preview
        xdg-open "$(campaign preview)"
    """
    from campaign.preview import write_preview

    options: Options = ctx.obj
    with _handled():
        report = _week(_project(ctx), options.clock())
        page = write_preview(report, options.clock())
    typer.echo(str(page))
    if not report.ok:
        err.print(ngettext("check fails with {n} error(s): the page lists them",
                           "check fails with {n} error(s): the page lists them",
                           len(report.errors)).format(n=len(report.errors)), markup=False)
        raise typer.Exit(1)


@app.command()
def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Write the findings as JSON.")] = False,
    send_test_alert: Annotated[bool, typer.Option(
        "--send-test-alert", help="Also send a test message on every alert channel.")] = False,
    allow_overrides: Annotated[bool, typer.Option(
        "--allow-overrides",
        help="Check against overridden API addresses (the sandbox, a proxy) on purpose; "
        "never the real pre-flight.")] = False,
) -> None:
    """Pre-flight: find what would make a post fail, days before the week.

    Per enabled platform: secrets set, credentials accepted, token expiry against
    the campaign's last day (with the dates to renew it), permissions, LinkedIn's
    API version, Instagram's image hosting; then the clock, the ledger, disk space
    and alerting. Each finding says what to do. Exit 1 if anything would make a post fail.

    Example:

    \b
        campaign doctor
        campaign doctor --json --send-test-alert
        campaign doctor --allow-overrides     (against the sandbox: set -a; . .env.sandbox)
    """
    from campaign.doctor import run_doctor

    options: Options = ctx.obj
    with _handled():
        project = _project(ctx)
        report = run_doctor(project, options.clock(), dict(os.environ),
                            send_test_alert=send_test_alert, allow_overrides=allow_overrides)
    if as_json:
        _print_json(report.as_json(project.settings.tz))
    else:
        for finding in report.findings:
            typer.echo(finding.format())
        typer.echo(report.verdict())
    if not report.ok:
        raise typer.Exit(1)


# The main options that take a value: the word after them is not the command's name.
_VALUE_OPTIONS = frozenset({"--config", "-c", "--now", "--lang"})


def _app_for(argv: Sequence[str]) -> typer.Typer:
    """`app` with only the command `argv` names (and the main options): typer builds every
    command it holds before it runs one, about 10 ms for all of them. `app` itself for
    `--help`, for a group such as `users`, and for a word that is not a command (its
    message lists them all)."""
    words = iter(argv)
    for word in words:
        if word == "--help":  # the main help lists every command
            return app
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            break
    else:
        return app
    for info in app.registered_commands:
        if info.callback is not None and word == (
                info.name or typer.main.get_command_name(info.callback.__name__)):
            only = _typer_app()
            only.registered_callback = app.registered_callback
            only.registered_commands = [info]
            return only
    return app


def main() -> None:
    """Console entry point: read .env, run the command, map unexpected faults to exit 70."""
    # campaign uses no pydantic plugins; looking for them reads the metadata of every
    # installed package at the first validation (about 10 ms of every command).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    env_file = Path(".env")
    if env_file.is_file():
        from dotenv import load_dotenv
        load_dotenv(env_file, override=False)  # variables already in the environment win
    try:
        _app_for(sys.argv[1:])()
    except CampaignError as exc:  # raised outside a command's own handling
        err.print(str(exc), markup=False)
        sys.exit(exc.exit_code)
    except Exception as exc:
        err.print(_("internal error: {kind}: {error}. This is a bug in campaign; please report "
                    "it with the command you ran.").format(kind=type(exc).__name__, error=exc),
                  markup=False)
        sys.exit(INTERNAL_FAULT)
