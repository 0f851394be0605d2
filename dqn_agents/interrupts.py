"""Ctrl-C during training: the first press becomes a flag the loop checks between steps.

`deferred_sigint` lets `dqn_agents.DQN.learn` finish the step in flight, so that the
agent is consistent (and can be saved) when ``KeyboardInterrupt`` reaches the caller; a
second press interrupts at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["deferred_sigint"]


@contextlib.contextmanager
def deferred_sigint() -> Iterator[list[bool]]:
    """Turn the first Ctrl-C into a flag the loop checks at a clean step boundary.

    A second Ctrl-C interrupts immediately. Only active in the main thread (elsewhere the
    flag is never set), and not when SIGINT is ignored (``nohup``, a background job of a
    non-interactive shell): such a process stays deaf to Ctrl-C while it trains.

    Yields:
        A one-item list: ``[True]`` once Ctrl-C was pressed.
    """
    flag = [False]
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        if flag[0]:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag[0] = True

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # pragma: no cover - not the main interpreter
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
