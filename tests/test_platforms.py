"""platforms.py: what a platform is lives in one place.

Outside `publishers/`, `sandbox/` and `platforms.py` no module names a platform: no
string that is a platform's id or name, no identifier made of one. Docstrings and
comments may (they explain); code may not (it would decide).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from campaign import counting
from campaign.models import CARD_SIZES, PLATFORMS
from campaign.platforms import SPECS, display_name, from_written
from campaign.publishers import publisher_class

PACKAGE = Path(__file__).resolve().parent.parent / "campaign"
ALLOWED = ("publishers", "sandbox")
NAMES = sorted({*PLATFORMS, *(s.name for s in SPECS.values()), "twitter", "Twitter"}, key=len)
# In identifiers and inside longer strings only names of 5 letters or more count: "x" is
# every other variable, and "X" is a size.
LONG = [n for n in NAMES if len(n) >= 5]
_WORD = re.compile(r"\b(" + "|".join(re.escape(n) for n in LONG) + r")\b", re.IGNORECASE)


def _modules() -> list[Path]:
    return sorted(
        path for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] not in ALLOWED and path.name != "platforms.py"
    )


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
        # A bare string statement (an attribute's doc) explains too.
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            found.add(id(node.value))
    return found


def _is_platform_literal(node: ast.AST, tree: ast.Module) -> bool:
    """`Platform = Literal["x", ...]` in models.py: the list of ids itself."""
    for statement in tree.body:
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id == "Platform"):
            return any(child is node for child in ast.walk(statement.value))
    return False


def platform_names_in(path: Path) -> list[str]:
    """Where `path`'s code names a platform: `line: what`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    found: list[str] = []
    # The literal pieces of an f-string are parts of a sentence ("{width}x{height}"): only a
    # name in them counts, not a piece that happens to equal an id.
    pieces = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
              for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
            if _is_platform_literal(node, tree):
                continue
            exact = id(node) not in pieces and text.strip().lower() in {n.lower() for n in NAMES}
            if exact or _WORD.search(text):
                found.append(f"{node.lineno}: {text[:60]!r}")
        names: list[str] = []
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.arg):
            names.append(node.arg)
        elif isinstance(node, ast.alias):
            names.append(node.asname or node.name.rsplit(".", 1)[-1])
        for name in names:
            # twitter-text is a library (it counts for X and Mastodon), not a platform.
            if any(n.lower() in name.lower().replace("twitter_text", "") for n in LONG):
                found.append(f"{getattr(node, 'lineno', '?')}: identifier {name}")
    return found


def test_no_module_outside_publishers_sandbox_and_platforms_names_a_platform() -> None:
    modules = _modules()
    assert len(modules) > 30, "the walk must see the package"
    named = {str(p.relative_to(PACKAGE)): hits for p in modules if (hits := platform_names_in(p))}
    assert named == {}, "move these platform facts into campaign/platforms.py"


def test_the_check_finds_a_platform_named_in_code(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Mastodon in a docstring is fine."""\n'
        'def limit(platform):\n'
        '    if platform == "mastodon":\n'
        '        return 500\n'
        '    return f"the Instagram caption"\n'
        'instagram_cap = 5\n',
        encoding="utf-8",
    )
    hits = platform_names_in(sample)
    assert any("'mastodon'" in h for h in hits)
    assert any("Instagram caption" in h for h in hits)
    assert any("identifier instagram_cap" in h for h in hits)
    assert not any("docstring" in h for h in hits)


def test_one_spec_one_publisher_one_sandbox_module_per_platform() -> None:
    assert tuple(SPECS) == PLATFORMS
    sandbox = PACKAGE / "sandbox"
    for platform, spec in SPECS.items():
        assert spec.id == platform
        assert publisher_class(platform).platform == platform
        assert (PACKAGE / "publishers" / f"{platform}.py").is_file()
        assert (sandbox / f"{platform}.py").is_file()
        assert spec.card_format in CARD_SIZES
        assert spec.secrets and all(name.isupper() for name in spec.secrets)
        assert spec.image_formats and "image/jpeg" in spec.image_formats  # cards are JPEG
        assert spec.caption_limit > 0 and spec.alt_text_limit > 0 and spec.image_byte_limit > 0
        assert spec.renew_how and spec.scope_fix
        # The default card format is the spec's alone: the settings class has no second one.
        assert spec.settings.model_fields["card_format"].default is None


def test_every_fact_has_one_value() -> None:
    # The stages read the spec; no second copy of a limit remains.
    assert {p: s.caption_limit for p, s in SPECS.items()} == counting.LIMITS
    assert {p: s.alt_text_limit for p, s in SPECS.items()} == counting.ALT_TEXT_LIMITS
    from campaign.cards import PLATFORM_BYTE_LIMITS
    from campaign.secrets import PLATFORM_SECRETS

    assert {p: s.image_byte_limit for p, s in SPECS.items()} == PLATFORM_BYTE_LIMITS
    assert {p: s.secrets for p, s in SPECS.items()} == PLATFORM_SECRETS
    for platform in PLATFORMS:
        module = __import__(f"campaign.publishers.{platform}", fromlist=["x"])
        for name in ("MAX_IMAGE_BYTES", "MAX_BLOB_BYTES", "DEFAULT_IMAGE_LIMIT"):
            if hasattr(module, name):
                assert getattr(module, name) == SPECS[platform].image_byte_limit, (platform, name)


@pytest.mark.parametrize(("written", "platform"), [
    ("x", "x"), ("Twitter", "x"), (" X ", "x"), ("LinkedIn", "linkedin"), ("bsky", "bluesky"),
    ("Facebook", "facebook"), ("tiktok", None),
])
def test_what_people_write_for_a_platform(written: str, platform: str | None) -> None:
    assert from_written(written) == platform


def test_display_names() -> None:
    assert [display_name(p) for p in PLATFORMS] == [
        "X", "Facebook", "Instagram", "LinkedIn", "Mastodon", "Bluesky"]
    assert display_name("tiktok") == "tiktok"


def test_no_page_template_lists_the_platforms_itself() -> None:
    quoted = re.compile(r"[\"'](" + "|".join(map(re.escape, NAMES)) + r")[\"']", re.IGNORECASE)
    templates = [p for p in PACKAGE.rglob("*") if p.suffix in (".html", ".j2") and p.is_file()]
    assert templates
    named = {str(p.relative_to(PACKAGE)): quoted.findall(p.read_text(encoding="utf-8"))
             for p in templates}
    assert {k: v for k, v in named.items() if v} == {}
