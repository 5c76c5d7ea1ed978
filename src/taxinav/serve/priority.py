"""CPU priority of the service's background work: on a shared 2-core host the requests and
the acknowledgements go first, the minute's refresh takes what is left."""

from __future__ import annotations

import os
import sys
import threading


def lower_thread_priority(niceness: int) -> None:
    """Lower the calling thread's CPU priority by ``niceness`` (Linux keeps one per thread;
    elsewhere nothing happens). A process started from this thread would inherit it."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + niceness, 19))
