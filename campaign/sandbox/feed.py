"""The sandbox's feed pages: what each platform would show, as plain HTML.

Every piece of text (captions, alt text, ids) is HTML-escaped; cards are `<img>`
elements with the post's alt text as `alt`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from urllib.parse import quote

from campaign.sandbox.core import PlatformApi, SandboxPost

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; padding: 0 1rem; max-width: 46rem;
       color: #222; }
nav a { margin-right: 1rem; display: inline-block; }
article { border: 1px solid #ccc; border-radius: 8px; padding: 1rem; margin: 1rem 0; }
article img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
.caption { white-space: pre-wrap; }
.meta { color: #666; font-size: .85rem; }
.alt { color: #444; font-size: .85rem; border-left: 3px solid #ddd; padding-left: .5rem; }
/* Long links, ids and hashtags wrap instead of pushing the page sideways on a phone. */
.caption, .meta, .alt, li { overflow-wrap: anywhere; }
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _nav(platforms: Iterable[tuple[str, str]]) -> str:
    links = "".join(
        f'<a href="/_sandbox/feed/{escape(name)}">{escape(title)}</a>' for name, title in platforms
    )
    return f'<nav><a href="/">All feeds</a>{links}</nav>'


def render_post(post: SandboxPost) -> str:
    image = (
        f'<img src="/_sandbox/image/{escape(post.platform)}/{quote(post.id, safe="")}" '
        f'alt="{escape(post.alt_text, quote=True)}" width="{post.width}" height="{post.height}">'
        if post.image
        else ""
    )
    alt = f'<p class="alt">Alt text: {escape(post.alt_text)}</p>' if post.alt_text else ""
    return (
        f'<article id="post-{escape(post.id)}">'
        f'<p class="meta">{escape(post.account)} · <time datetime="{post.created_at.isoformat()}">'
        f"{escape(post.created_at.isoformat())}</time> · id {escape(post.id)}</p>{image}"
        f'<p class="caption">{escape(post.caption)}</p>{alt}</article>'
    )


def render_feed(
    title: str, name: str, posts: list[SandboxPost], others: Iterable[tuple[str, str]] = ()
) -> str:
    items = "".join(render_post(p) for p in reversed(posts)) or "<p>No posts yet.</p>"
    return _page(
        f"{title} (sandbox)",
        f"{_nav(others)}<h1>{escape(title)} <small>sandbox feed</small></h1>{items}",
    )


def render_index(platforms: Mapping[str, PlatformApi]) -> str:
    rows = "".join(
        f'<li><a href="/_sandbox/feed/{escape(name)}">{escape(api.title)}</a>: '
        f"{len(api.live_posts())} posts</li>"
        for name, api in platforms.items()
    )
    return _page(
        "campaign sandbox",
        "<h1>campaign sandbox</h1><p>The fake platforms the campaign posts to in tests and "
        "rehearsals. Nothing here leaves this machine.</p>"
        f"<ul>{rows}</ul><p><a href=\"/_sandbox/posts\">/_sandbox/posts</a> (JSON)</p>",
    )


__all__ = ["render_feed", "render_index", "render_post"]
