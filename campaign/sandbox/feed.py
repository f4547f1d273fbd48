"""The sandbox's feed pages: what each platform would show, as plain HTML.

Every piece of text (captions, alt text, ids) is HTML-escaped; cards are `<img>`
elements with the post's alt text as `alt`. The pages' own words are in the active
language (`campaign.i18n`); the posts stay as they were posted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from urllib.parse import quote

from campaign import i18n
from campaign.i18n import _, ngettext
from campaign.sandbox.core import PlatformApi, SandboxPost

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; padding: 0 1rem; max-width: 46rem;
       color: #222; }
nav a { margin-right: 1rem; display: inline-block; }
article { border: 1px solid #ccc; border-radius: 8px; padding: 1rem; margin: 1rem 0; }
article img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
.caption { white-space: pre-wrap; -webkit-hyphens: auto; hyphens: auto; }
.meta { color: #666; font-size: .85rem; }
.alt { color: #444; font-size: .85rem; border-left: 3px solid #ddd; padding-left: .5rem; }
/* Long links, ids and hashtags wrap instead of pushing the page sideways on a phone (after
   hyphenation, where the caption's language allows it). */
.caption, .meta, .alt, li { overflow-wrap: anywhere; }
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html>\n<html lang=\"{i18n.language()}\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _nav(platforms: Iterable[tuple[str, str]]) -> str:
    links = "".join(
        f'<a href="/_sandbox/feed/{escape(name)}">{escape(title)}</a>' for name, title in platforms
    )
    everything = escape(_("All feeds"))
    return f'<nav><a href="/">{everything}</a>{links}</nav>'


def render_post(post: SandboxPost) -> str:
    image = (
        f'<img src="/_sandbox/image/{escape(post.platform)}/{quote(post.id, safe="")}" '
        f'alt="{escape(post.alt_text, quote=True)}" width="{post.width}" height="{post.height}">'
        if post.image
        else ""
    )
    alt_text = escape(_("Alt text: {text}").format(text=post.alt_text))
    alt = f'<p class="alt">{alt_text}</p>' if post.alt_text else ""
    # <time>'s text has no markup in it: a rehearsal swaps it for the rehearsed day and hour.
    when = i18n.format_moment(post.created_at.astimezone())
    ident = escape(_("id {id}").format(id=post.id))
    return (
        f'<article id="post-{escape(post.id)}">'
        f'<p class="meta">{escape(post.account)} · <time datetime="{post.created_at.isoformat()}">'
        f"{escape(when)}</time> · {ident}</p>{image}"
        f'<p class="caption">{escape(post.caption)}</p>{alt}</article>'
    )


def render_feed(
    title: str, name: str, posts: list[SandboxPost], others: Iterable[tuple[str, str]] = ()
) -> str:
    nothing = escape(_("No posts yet."))
    items = "".join(render_post(p) for p in reversed(posts)) or f"<p>{nothing}</p>"
    small = escape(_("sandbox feed"))
    return _page(
        _("{platform} (sandbox)").format(platform=title),
        f"{_nav(others)}<h1>{escape(title)} <small>{small}</small></h1>{items}",
    )


def render_index(platforms: Mapping[str, PlatformApi]) -> str:
    rows = "".join(
        f'<li><a href="/_sandbox/feed/{escape(name)}">{escape(api.title)}</a>: '
        + escape(ngettext("{n} post", "{n} posts", n).format(n=i18n.format_number(n)))
        + "</li>"
        for name, api in platforms.items()
        for n in [len(api.live_posts())]
    )
    title = escape(_("campaign sandbox"))
    about = escape(_("The fake platforms the campaign posts to in tests and rehearsals. "
                     "Nothing here leaves this machine."))
    return _page(
        _("campaign sandbox"),
        f"<h1>{title}</h1><p>{about}</p>"
        f"<ul>{rows}</ul><p><a href=\"/_sandbox/posts\">/_sandbox/posts</a> (JSON)</p>",
    )


__all__ = ["render_feed", "render_index", "render_post"]
