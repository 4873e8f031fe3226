"""Write an output file so that it appears complete or not at all."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from enliven.errors import OutputError

log = logging.getLogger(__name__)


def _umask() -> int:
    # os.umask can only be read by setting it; restore it at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(final: Path | str) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; move it onto ``final`` on success.

    The temporary file is hidden (``.NAME.XXXX.tmp.SUFFIX``) and keeps the suffix of
    ``final`` so that muxers and encoders infer the format from it. If the body
    raises, the temporary file is deleted and the exception propagates; nothing is
    left at ``final`` (an existing file there is kept untouched).

    Parameters
    ----------
    final : Path
        Where the finished file should appear.

    Yields
    ------
    Path
        The temporary path to write to (the file already exists, empty).

    Raises
    ------
    OutputError
        If the directory of ``final`` does not exist or is not writable, or if
        ``final`` is a directory.
    """
    final = Path(final)
    directory = final.parent if str(final.parent) else Path(".")
    if final.is_dir():
        raise OutputError(f"cannot write {final}: it is a directory; choose another -o")
    if not directory.exists():
        raise OutputError(
            f"cannot write {final}: directory {directory} does not exist; "
            "create it or choose another -o"
        )
    if not directory.is_dir():
        raise OutputError(
            f"cannot write {final}: {directory} is not a directory; choose another -o"
        )
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=directory, prefix=f".{final.name}.", suffix=f".tmp{final.suffix}"
        )
    except OSError as exc:
        raise OutputError(
            f"cannot write {final}: directory {directory} is not writable "
            f"({exc.strerror or exc}); choose another -o"
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file 0600; give the result ordinary permissions.
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_umask())
        try:
            os.replace(tmp, final)
        except OSError as exc:
            raise OutputError(
                f"cannot write {final}: could not move the finished file into place "
                f"({exc.strerror or exc}); choose another -o"
            ) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    log.debug("wrote %s", final)
