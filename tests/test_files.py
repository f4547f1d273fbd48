"""Reading what people drop in: only ordinary files, never more than the limit, never waiting."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from campaign.files import FileRefused, read_bounded, resolve_inside


def read_within(path: Path, limit: int = 1000, seconds: float = 10) -> bytes | FileRefused:
    """read_bounded in a thread: a read that blocks (a pipe) fails the test instead of hanging."""
    result: list[bytes | FileRefused] = []

    def work() -> None:
        try:
            result.append(read_bounded(path, limit, too_large="make it smaller"))
        except FileRefused as exc:
            result.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"read_bounded({path.name}) did not return within {seconds} s"
    return result[0]


def test_an_ordinary_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_bytes(b"---\ntitle: x\n---\n")
    assert read_within(path) == b"---\ntitle: x\n---\n"


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "09-x.md"
    os.mkfifo(path)
    refused = read_within(path)
    assert isinstance(refused, FileRefused)
    assert str(refused).startswith("is a named pipe, not a file with text in it")


def test_a_link_to_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "09-x.md"
    path.symlink_to("/dev/zero")
    refused = read_within(path)
    assert isinstance(refused, FileRefused) and str(refused).startswith("is a device")


def test_a_link_to_itself_is_a_loop(tmp_path: Path) -> None:
    path = tmp_path / "09-x.md"
    path.symlink_to(path)
    refused = read_within(path)
    assert isinstance(refused, FileRefused)
    assert "symlink loop" in str(refused) and "replace it with the file itself" in str(refused)


def test_a_dangling_link_and_a_folder(tmp_path: Path) -> None:
    dangling = tmp_path / "gone.md"
    dangling.symlink_to(tmp_path / "nowhere.md")
    assert "a link to a file that does not exist" in str(read_within(dangling))
    folder = tmp_path / "folder.md"
    folder.mkdir()
    assert str(read_within(folder)).startswith("is a folder")


def test_a_file_over_the_limit_is_refused_with_its_size_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_bytes(b"x" * 5000)
    refused = read_within(path, limit=1000)
    assert isinstance(refused, FileRefused)
    assert str(refused) == "is 5 KB, more than the 1 KB allowed: make it smaller"
    exact = tmp_path / "exact.md"
    exact.write_bytes(b"x" * 1000)
    assert read_within(exact, limit=1000) == b"x" * 1000


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.md"
    path.write_text("x")
    path.chmod(0)
    assert "permission denied" in str(read_within(path))


def test_resolve_inside_catches_loops_and_ways_out(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "assets").mkdir(parents=True)
    (root / "assets" / "p.jpg").write_bytes(b"x")
    assert resolve_inside(root / "assets" / "p.jpg", root) == (root / "assets" / "p.jpg").resolve()
    assert resolve_inside(root / ".." / "elsewhere.jpg", root) is None
    loop = root / "assets" / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(FileRefused, match="symlink loop"):
        resolve_inside(loop, root)
