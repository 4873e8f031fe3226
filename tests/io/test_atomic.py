from __future__ import annotations

import os
from pathlib import Path

import pytest

from enliven.errors import OutputError
from enliven.io.atomic import atomic_path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_success_moves_file_into_place(tmp_path: Path) -> None:
    final = tmp_path / "out.mp4"
    with atomic_path(final) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".out.mp4.")
        assert tmp.name.endswith(".tmp.mp4")
        assert tmp.exists()
        assert not final.exists()
        tmp.write_bytes(b"data")
    assert final.read_bytes() == b"data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    assert final.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_exception_deletes_temp_and_keeps_old_file(tmp_path: Path) -> None:
    final = tmp_path / "out.png"
    final.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(final) as tmp:
        tmp.write_bytes(b"new")
        raise RuntimeError("boom")
    assert final.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_missing_directory(tmp_path: Path) -> None:
    final = tmp_path / "nope" / "out.mp4"
    with pytest.raises(OutputError, match=r"does not exist.*choose another -o"):
        with atomic_path(final):
            pass


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match=r"afile is not a directory.*-o") as err:
        with atomic_path(tmp_path / "afile" / "out.mp4"):
            pass
    assert "out.mp4" in str(err.value)


def test_final_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "out.mp4").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        with atomic_path(tmp_path / "out.mp4"):
            pass


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root can write into read-only directories",
)
def test_read_only_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match=r"is not writable.*choose another -o"):
            with atomic_path(ro / "out.mp4"):
                pass
    finally:
        ro.chmod(0o700)
