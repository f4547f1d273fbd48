"""`campaign report`: what the week achieved, from the numbers stored in the ledger (SPEC §13).

    ledger snapshots (metrics.py) -> build_report (pure: a Report) -> write_report:
        build/report/index.html   one offline page: report.css, charts/*.svg, cards/*.jpg
        --csv FILE                one row per post and number
        --json                    the Report as data (`report_json`)

Honest numbers: a number the platform does not give, one the token may not read, one
not there yet, or a post deleted on the platform is shown with its reason and the fix,
never as 0. Totals add only the numbers there are, and say of how many posts. A
withdrawn story is not in the ledger's snapshots any more (`Ledger.withdraw` deletes
them), so it is in no report written after its withdrawal.

The charts are drawn with matplotlib as SVG files; each has a text alternative (its
`alt` and the same numbers as a table under it).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from campaign import i18n
from campaign.config import Project
from campaign.i18n import N_, _, format_moment, format_number
from campaign.ledger import Ledger, MetricRow, PostRecord
from campaign.models import PLATFORMS, Platform
from campaign.platforms import CHART_COLOURS, SPECS, display_name
from campaign.publishers.base import METRICS
from campaign.status import state_label

#: Each number's name as staff read it (README "campaign report" says what each means).
METRIC_LABELS: dict[str, str] = {
    "views": N_("Views"),
    "reach": N_("People reached"),
    "likes": N_("Likes"),
    "reposts": N_("Reposts and shares"),
    "replies": N_("Replies and comments"),
    "quotes": N_("Quotes"),
    "saves": N_("Saves"),
    "clicks": N_("Clicks"),
    "profile_clicks": N_("Clicks to the profile"),
    "interactions": N_("Interactions (the platform's own count)"),
}
#: What "reactions" adds up, per post: what people did with it.
REACTIONS = ("likes", "reposts", "replies", "quotes", "saves")
#: The numbers shown as the campaign's headline, in this order.
HEADLINE = ("views", "reach", "likes", "reposts", "replies")
COLOURS = CHART_COLOURS


@dataclass(frozen=True)
class Number:
    """One number of one post: its value, or why there is none (`status`, `reason`)."""

    value: int | None
    status: str  # "ok", "not_offered", "not_fetched", or metrics.NO_NUMBER_STATUSES
    reason: str = ""
    fetched_at: datetime | None = None


@dataclass(frozen=True)
class PostResult:
    story_id: str
    title: str
    platform: Platform
    url: str | None
    posted_at: datetime | None
    numbers: dict[str, Number]  # every metric of METRICS
    fetched_at: datetime | None  # the newest fetch that gave numbers
    note: str  # what the newest fetch said when it gave none (deleted, rate limited...)
    history: list[tuple[datetime, dict[str, int]]]
    card: str | None = None  # the thumbnail, relative to the report's folder

    @property
    def reactions(self) -> int | None:
        values = [n.value for m, n in self.numbers.items() if m in REACTIONS and
                  n.value is not None]
        return sum(values) if values else None


@dataclass(frozen=True)
class Total:
    value: int | None  # None: no post of it has this number
    posts: int  # posts counted
    of: int  # posts that could have it
    reason: str = ""  # value None: why
    offered: bool = True  # False: the platform does not give this number at all


@dataclass(frozen=True)
class Chart:
    name: str  # its file: charts/<name>.svg
    title: str
    alt: str  # the text alternative
    columns: tuple[str, ...]  # the same numbers as a table
    rows: tuple[tuple[str, ...], ...]


@dataclass
class Report:
    campaign: str
    start: datetime
    end: datetime
    generated_at: datetime
    first_fetch: datetime | None
    last_fetch: datetime | None
    posts: list[PostResult]
    platforms: dict[Platform, dict[str, Total]]
    totals: dict[str, Total]
    best: dict[Platform, PostResult]
    problems: dict[Platform, str]  # the newest fetch's trouble per platform
    not_posted: list[tuple[str, str, str]]  # story, platform, state
    growth: dict[Platform, list[tuple[datetime, int]]] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)


# -- building (pure) ------------------------------------------------------------------
def build_report(project: Project, records: list[PostRecord], rows: list[MetricRow],
                 titles: Mapping[str, str], withdrawn: set[str], now: datetime) -> Report:
    """The report from the ledger's posts and snapshots. Pure: `now` is passed in."""
    settings = project.settings
    tz = settings.tz
    from campaign.metrics import week_end

    start = datetime.combine(settings.campaign.start, datetime.min.time(), tzinfo=tz)
    by_post: dict[tuple[str, str], list[MetricRow]] = {}
    for row in rows:
        by_post.setdefault((row.story_id, row.platform), []).append(row)
    posts: list[PostResult] = []
    not_posted: list[tuple[str, str, str]] = []
    for record in records:
        if record.story_id in withdrawn or record.state in ("withdrawn", "deleted"):
            continue
        if record.state != "posted":
            if record.state in ("failed", "missed", "needs_attention", "delete_by_hand"):
                not_posted.append((record.story_id, record.platform, record.state))
            continue
        posts.append(_post_result(record, by_post.get((record.story_id, record.platform), []),
                                  titles, settings.report.every_hours))
    posts.sort(key=lambda p: (p.posted_at or now, PLATFORMS.index(p.platform)))
    platforms: dict[Platform, dict[str, Total]] = {}
    for platform in PLATFORMS:
        mine = [p for p in posts if p.platform == platform]
        if mine:
            platforms[platform] = {m: _total(platform, m, mine) for m in METRICS}
    totals = {m: _sum_totals([t[m] for t in platforms.values()]) for m in METRICS}
    best: dict[Platform, PostResult] = {}
    for platform in platforms:
        ranked = [p for p in posts if p.platform == platform and p.reactions is not None]
        if ranked:
            best[platform] = max(ranked, key=lambda p: (p.reactions or 0,
                                                        _value(p, "views"), p.story_id))
    problems: dict[Platform, str] = {}
    for post in posts:
        if post.note and post.platform not in problems:
            problems[post.platform] = post.note
    fetched = [r.fetched_at for r in rows]
    report = Report(
        campaign=settings.campaign.name, start=start, end=week_end(settings),
        generated_at=now, first_fetch=min(fetched) if fetched else None,
        last_fetch=max(fetched) if fetched else None, posts=posts, platforms=platforms,
        totals=totals, best=best, problems=problems, not_posted=not_posted,
        growth=_growth(posts))
    report.charts = _charts(report)
    return report


def _value(post: PostResult, metric: str) -> int:
    number = post.numbers.get(metric)
    return number.value if number and number.value is not None else 0


def _post_result(record: PostRecord, rows: list[MetricRow], titles: Mapping[str, str],
                 every_hours: float) -> PostResult:
    spec = SPECS[record.platform]
    name = spec.name
    times = sorted({r.fetched_at for r in rows})
    newest = times[-1] if times else None
    history: list[tuple[datetime, dict[str, int]]] = []
    for moment in times:
        values = {r.metric: r.value for r in rows if r.fetched_at == moment and
                  r.status == "ok" and r.value is not None}
        if values:
            history.append((moment, values))
    numbers: dict[str, Number] = {}
    for metric in METRICS:
        if metric not in spec.metrics:
            numbers[metric] = Number(None, "not_offered", _(
                "{platform} does not give this number").format(platform=name))
            continue
        good = [r for r in rows if r.metric == metric and r.status == "ok" and
                r.value is not None]
        if good:
            numbers[metric] = Number(good[-1].value, "ok", "", good[-1].fetched_at)
            continue
        why = [r for r in rows if r.metric in (metric, "") and r.status != "ok"]
        if why:
            last = why[-1]
            numbers[metric] = Number(None, last.status, last.detail or "", last.fetched_at)
        else:
            numbers[metric] = Number(None, "not_fetched", _(
                "not fetched yet: the numbers are fetched every {hours} hours; "
                "`campaign report --refresh` fetches them now").format(
                    hours=format_number(every_hours)))
    note = ""
    if newest is not None:
        failed = [r for r in rows if r.fetched_at == newest and r.metric == ""]
        if failed and failed[-1].status != "ok":
            note = failed[-1].detail or ""
            good_times = [m for m, _v in history]
            if good_times:
                note = _("{reason} (the numbers shown are from {moment})").format(
                    reason=note, moment=format_moment(good_times[-1]))
    return PostResult(
        story_id=record.story_id, title=titles.get(record.story_id, record.story_id),
        platform=record.platform, url=record.url, posted_at=record.posted_at,
        numbers=numbers, fetched_at=history[-1][0] if history else None, note=note,
        history=history)


def _total(platform: Platform, metric: str, posts: list[PostResult]) -> Total:
    if metric not in SPECS[platform].metrics:
        return Total(None, 0, len(posts), _("{platform} does not give this number").format(
            platform=SPECS[platform].name), offered=False)
    values = [p.numbers[metric].value for p in posts if p.numbers[metric].value is not None]
    if not values:
        reasons = {p.numbers[metric].reason for p in posts if p.numbers[metric].reason}
        return Total(None, 0, len(posts), "; ".join(sorted(reasons)))
    return Total(sum(v for v in values if v is not None), len(values), len(posts))


def _sum_totals(totals: list[Total]) -> Total:
    counted = [t for t in totals if t.value is not None]
    of = sum(t.of for t in totals if t.offered)
    if not any(t.offered for t in totals):
        return Total(None, 0, 0, _("no platform of this campaign gives this number"),
                     offered=False)
    if not counted:
        return Total(None, 0, of, _("no platform gave this number yet"))
    return Total(sum(t.value or 0 for t in counted), sum(t.posts for t in counted), of)


def _growth(posts: list[PostResult]) -> dict[Platform, list[tuple[datetime, int]]]:
    """Per platform, the reactions of all its posts at each fetch (each post's newest
    numbers at that time carried forward)."""
    moments = sorted({m for p in posts for m, _v in p.history})
    growth: dict[Platform, list[tuple[datetime, int]]] = {}
    for platform in PLATFORMS:
        mine = [p for p in posts if p.platform == platform and p.history]
        if not mine:
            continue
        series: list[tuple[datetime, int]] = []
        for moment in moments:
            total = 0
            for post in mine:
                seen = [v for m, v in post.history if m <= moment]
                if seen:
                    total += sum(seen[-1].get(k, 0) for k in REACTIONS)
            series.append((moment, total))
        growth[platform] = series
    return growth


def _charts(report: Report) -> list[Chart]:
    charts: list[Chart] = []
    names = {p: display_name(p) for p in report.platforms}
    reactions = {p: sum(post.reactions or 0 for post in report.posts if post.platform == p)
                 for p in report.platforms}
    if any(reactions.values()):
        listed = ", ".join(f"{names[p]} {format_number(n)}" for p, n in reactions.items())
        charts.append(Chart(
            "reactions-per-platform", _("Reactions per platform"),
            _("Bar chart of the reactions (likes, reposts, replies, quotes and saves) per "
              "platform: {numbers}.").format(numbers=listed),
            (_("Platform"), _("Reactions")),
            tuple((names[p], format_number(n)) for p, n in reactions.items())))
    views = {p: t["views"].value for p, t in report.platforms.items()
             if t["views"].value is not None}
    if views:
        listed = ", ".join(f"{names[p]} {format_number(n or 0)}" for p, n in views.items())
        missing = [names[p] for p in report.platforms if p not in views]
        alt = _("Bar chart of the views per platform: {numbers}.").format(numbers=listed)
        if missing:
            alt += " " + _("No views for {platforms}: see the reasons below.").format(
                platforms=", ".join(missing))
        charts.append(Chart("views-per-platform", _("Views per platform"), alt,
                            (_("Platform"), _("Views")),
                            tuple((names[p], format_number(n or 0)) for p, n in views.items())))
    if report.growth and len({m for s in report.growth.values() for m, _v in s}) > 1:
        last = {p: s[-1][1] for p, s in report.growth.items()}
        moments = sorted({m for s in report.growth.values() for m, _v in s})
        tz = report.start.tzinfo
        charts.append(Chart(
            "reactions-over-time", _("Reactions over time"),
            _("Line chart of the reactions per platform from {first} to {last}; at the last "
              "fetch: {numbers}.").format(
                  first=format_moment(moments[0].astimezone(tz)),
                  last=format_moment(moments[-1].astimezone(tz)),
                  numbers=", ".join(f"{names[p]} {format_number(n)}" for p, n in last.items())),
            (_("Fetched"), *(names[p] for p in report.growth)),
            tuple((format_moment(m.astimezone(tz)),
                   *(format_number(dict(s).get(m, 0)) for s in report.growth.values()))
                  for m in moments)))
    stories: dict[str, dict[str, int]] = {}
    titles: dict[str, str] = {}
    for post in report.posts:
        stories.setdefault(post.story_id, {})[post.platform] = post.reactions or 0
        titles[post.story_id] = post.title
    if stories and any(any(v.values()) for v in stories.values()):
        platforms = [p for p in report.platforms]
        charts.append(Chart(
            "reactions-per-story", _("Reactions per story"),
            _("Stacked bar chart of the reactions per story, by platform: {numbers}.").format(
                numbers="; ".join(f"{titles[s]} {format_number(sum(v.values()))}"
                                  for s, v in stories.items())),
            (_("Story"), *(names[p] for p in platforms), _("In all")),
            tuple((titles[s], *(format_number(v.get(p, 0)) for p in platforms),
                   format_number(sum(v.values()))) for s, v in stories.items())))
    return charts


# -- drawing --------------------------------------------------------------------------
def draw_chart(report: Report, chart: Chart) -> str:
    """The chart as an SVG document, drawn with matplotlib (no date, so it is the same
    for the same numbers)."""
    import matplotlib
    from matplotlib.dates import date2num
    from matplotlib.figure import Figure

    names = {p: display_name(p) for p in report.platforms}
    with matplotlib.rc_context({"svg.hashsalt": "campaign", "svg.fonttype": "path",
                                "font.family": "DejaVu Sans", "font.size": 10}):
        figure = Figure(figsize=(6.4, 3.6), layout="constrained")
        axes = figure.add_subplot()
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        if chart.name in ("reactions-per-platform", "views-per-platform"):
            metric = "views" if chart.name == "views-per-platform" else None
            shown = [p for p in report.platforms
                     if metric is None or report.platforms[p]["views"].value is not None]
            values = [report.platforms[p]["views"].value or 0 if metric else
                      sum(x.reactions or 0 for x in report.posts if x.platform == p)
                      for p in shown]
            bars = axes.barh([names[p] for p in shown], values,
                             color=[COLOURS[p] for p in shown])
            axes.bar_label(bars, labels=[format_number(v) for v in values], padding=3)
            axes.invert_yaxis()
            axes.set_xlabel(chart.columns[1])
        elif chart.name == "reactions-over-time":
            tz = report.start.tzinfo
            for platform, series in report.growth.items():
                axes.plot(date2num([m.astimezone(tz) for m, _v in series]),  # type: ignore[no-untyped-call]
                          [v for _m, v in series],
                          label=names[platform], color=COLOURS[platform], linewidth=2,
                          marker="o", markersize=3)
            days = sorted({m.astimezone(tz).date() for s in report.growth.values()
                           for m, _v in s})
            step = max(1, len(days) // 7)
            ticks = [datetime.combine(d, datetime.min.time(), tzinfo=tz) for d in days][::step]
            axes.set_xticks(date2num(ticks),  # type: ignore[no-untyped-call]
                          [i18n.format_short_day(t.date()) for t in ticks])
            axes.set_ylabel(_("Reactions"))
            axes.legend(frameon=False, fontsize=8)
            axes.grid(axis="y", alpha=0.3)
        else:
            story_ids = list(dict.fromkeys(p.story_id for p in report.posts))
            titles = {p.story_id: p.title for p in report.posts}
            left = [0] * len(story_ids)
            for platform in report.platforms:
                values = [next((x.reactions or 0 for x in report.posts
                                if x.story_id == s and x.platform == platform), 0)
                          for s in story_ids]
                axes.barh([_short(titles[s]) for s in story_ids], values, left=left,
                          label=names[platform], color=COLOURS[platform])
                left = [a + b for a, b in zip(left, values, strict=True)]
            axes.invert_yaxis()
            axes.set_xlabel(_("Reactions"))
            axes.legend(frameon=False, fontsize=8, loc="lower right")
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


# -- writing --------------------------------------------------------------------------
def report_folder(project: Project) -> Path:
    return project.build_dir / "report"


def write_report(report: Report, project: Project, target: Path | None = None) -> Path:
    """Write the report's folder (index.html, report.css, charts, card thumbnails) afresh;
    return the page's path. Nothing of an earlier report stays (a withdrawn story's
    card with it)."""
    folder = target or report_folder(project)
    fresh = folder.with_name(folder.name + ".part")
    shutil.rmtree(fresh, ignore_errors=True)
    (fresh / "charts").mkdir(parents=True)
    (fresh / "cards").mkdir()
    posts = [_with_thumbnail(post, project, fresh / "cards") for post in report.posts]
    report.posts = posts
    report.best = {p: next(x for x in posts if x.story_id == b.story_id and x.platform == p)
                   for p, b in report.best.items()}
    for chart in report.charts:
        (fresh / "charts" / f"{chart.name}.svg").write_text(draw_chart(report, chart),
                                                             encoding="utf-8")
    shutil.copyfile(Path(__file__).parent / "templates" / "report.css", fresh / "report.css")
    (fresh / "index.html").write_text(render_page(report), encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(fresh, folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder / "index.html"


def _with_thumbnail(post: PostResult, project: Project, folder: Path) -> PostResult:
    from dataclasses import replace

    from PIL import Image

    from campaign.cards import card_format, card_path

    source = card_path(post.story_id, card_format(post.platform, project.settings), project)
    if not source.is_file():
        return post
    name = source.name
    target = folder / name
    if not target.is_file():
        try:
            with Image.open(source) as image:
                image.thumbnail((360, 360))
                image.convert("RGB").save(target, "JPEG", quality=80)  # no metadata copied
        except OSError:
            return post
    return replace(post, card=f"cards/{name}")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("campaign", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    from campaign.preview import backticks_as_code

    env.filters["code"] = backticks_as_code  # `campaign report --refresh` shown as code
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n._, ngettext=i18n.ngettext, newstyle=True)
    return env


def _context(report: Report, assets: str) -> dict[str, Any]:
    tz = report.start.tzinfo

    def moment(value: datetime | None) -> str:
        return format_moment(value.astimezone(tz)) if value else ""

    return {
        "report": report, "assets": assets, "metrics": METRICS, "headline": HEADLINE,
        "label": lambda m: _(METRIC_LABELS[m]), "platform_name": display_name,
        "number": format_number, "moment": moment,
        "day": lambda d: i18n.format_day(d.date() if isinstance(d, datetime) else d, year=True),
        "colours": COLOURS, "language": i18n.language(),
        "last_day": (report.end - timedelta(days=1)).date(), "state_label": state_label,
    }


def render_body(report: Report, assets: str = "") -> Markup:
    """The report's content (for the page, and for the workspace's report page); `assets`
    is put before charts/ and cards/ links."""
    html = _environment().get_template("_report_body.html.j2").render(
        **_context(report, assets))
    return Markup(html)  # noqa: S704 - rendered by an autoescaping template


def render_page(report: Report) -> str:
    return _environment().get_template("report.html.j2").render(
        body=render_body(report), **_context(report, ""))


def write_csv(report: Report, target: Path) -> Path:
    """One row per post and number: the numbers on the page, and why any is missing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["story", "title", "platform", "url", "posted_at", "metric", "value",
                         "status", "reason", "fetched_at"])
        for post in report.posts:
            for metric, number in post.numbers.items():
                writer.writerow([
                    post.story_id, post.title, post.platform, post.url or "",
                    post.posted_at.isoformat() if post.posted_at else "", metric,
                    "" if number.value is None else number.value, number.status, number.reason,
                    number.fetched_at.isoformat() if number.fetched_at else ""])
    return target


def report_json(report: Report, page: Path | None, csv_file: Path | None) -> dict[str, Any]:
    def total(t: Total) -> dict[str, Any]:
        return {"value": t.value, "posts": t.posts, "of": t.of, "offered": t.offered,
                "reason": t.reason or None}

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "campaign": report.campaign,
        "period": {"start": iso(report.start), "end": iso(report.end)},
        "generated_at": iso(report.generated_at),
        "first_fetch": iso(report.first_fetch), "last_fetch": iso(report.last_fetch),
        "report": str(page) if page else None, "csv": str(csv_file) if csv_file else None,
        "totals": {m: total(t) for m, t in report.totals.items()},
        "platforms": {p: {m: total(t) for m, t in ts.items()}
                      for p, ts in report.platforms.items()},
        "posts": [{
            "story": p.story_id, "title": p.title, "platform": p.platform, "url": p.url,
            "posted_at": iso(p.posted_at), "fetched_at": iso(p.fetched_at),
            "note": p.note or None, "reactions": p.reactions,
            "metrics": {m: {"value": n.value, "status": n.status, "reason": n.reason or None,
                            "fetched_at": iso(n.fetched_at)} for m, n in p.numbers.items()},
            "history": [{"at": iso(m), "metrics": v} for m, v in p.history],
        } for p in report.posts],
        "best": {p: {"story": b.story_id, "reactions": b.reactions}
                 for p, b in report.best.items()},
        "problems": report.problems,
        "not_posted": [{"story": s, "platform": p, "state": st}
                       for s, p, st in report.not_posted],
    }


def make_report(project: Project, ledger: Ledger, now: datetime,
                titles: Mapping[str, str] | None = None) -> Report:
    """The report of this ledger, now."""
    return build_report(project, ledger.posts(), ledger.metrics(), titles or {},
                        ledger.withdrawn_stories(), now)


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)
