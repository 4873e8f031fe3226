"""Run stages of a stream in background threads, with bounded queues.

Decoding, tracking, rendering and encoding spend their time in C code that
releases the GIL (FFmpeg, MediaPipe, OpenCV, numba ``nogil``), so threads let them
overlap on two cores. Order is kept, at most ``depth`` items wait between stages
(memory stays flat), and an exception in any stage reaches the consumer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def in_thread(items: Iterable[T], depth: int = 2, name: str = "enliven-stage") -> Iterator[T]:
    """Iterate ``items`` in a background thread; yield them here, in order."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(_Failure(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5.0)


def map_in_thread(fn: Callable[[T], U], items: Iterable[T], depth: int = 2, name: str = "enliven-stage") -> Iterator[U]:
    """``map(fn, items)`` computed in a background thread, in order."""
    return in_thread((fn(item) for item in items), depth, name)
