"""errors.py: the docstring's tree, the classes and the README's exit codes agree."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import campaign
from campaign import errors
from campaign.cli import INTERNAL_FAULT

README = Path(__file__).resolve().parent.parent / "README.md"
_ROW = re.compile(r"^\s+[│├└─ ]*?(?P<name>[A-Z]\w+)\s+(?P<code>\d+)\s{2}", re.M)


def _tree() -> dict[str, tuple[int, str | None]]:
    """Class name -> (exit code, parent name) as the docstring draws them."""
    doc = errors.__doc__ or ""
    rows: dict[str, tuple[int, str | None]] = {}
    stack: list[tuple[int, str]] = []  # (column of the name, name)
    for line in doc.splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        column = match.start("name")
        while stack and stack[-1][0] >= column:
            stack.pop()
        rows[match["name"]] = (int(match["code"]), stack[-1][1] if stack else None)
        stack.append((column, match["name"]))
    return rows


def _all_our_errors() -> dict[str, type[BaseException]]:
    """Every subclass of CampaignError defined anywhere in the package."""
    for module in pkgutil.walk_packages(campaign.__path__, "campaign."):
        if module.name.startswith("campaign.workspace"):
            continue  # imported below on its own: it needs Flask, which everything has anyway
        importlib.import_module(module.name)
    importlib.import_module("campaign.workspace.app")
    found: dict[str, type[BaseException]] = {}
    todo: list[type[BaseException]] = [errors.CampaignError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def test_the_docstring_draws_every_error_with_its_parent_and_exit_code() -> None:
    tree = _tree()
    classes = _all_our_errors()
    assert set(tree) == set(classes), "draw every CampaignError subclass in errors.py's tree"
    for name, (code, parent) in tree.items():
        cls = classes[name]
        assert cls.exit_code == code, f"{name}: the tree says {code}, the class {cls.exit_code}"
        if parent is None:
            assert cls is errors.CampaignError
        else:
            assert cls.__bases__[0].__name__ == parent, f"{name} is drawn under {parent}"


def test_the_readme_lists_every_exit_code() -> None:
    text = README.read_text(encoding="utf-8")
    listed = text[text.index("Exit codes:"):].split("\n\n", 1)[0]
    codes = {code for code, _parent in _tree().values()} | {0, 2, INTERNAL_FAULT}
    said = {int(n) for n in re.findall(r"(?<![\w.])(\d+) ", listed)}
    assert said == codes


def test_the_tree_parser_reads_a_drawing() -> None:
    assert _tree()["SchedulerLocked"] == (1, "LedgerError")
    assert _tree()["CardTextError"] == (1, "CardError")
    assert _tree()["CampaignError"] == (3, None)
