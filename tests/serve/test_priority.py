"""The refresh thread yields the CPU: its niceness is raised, the other threads' is not."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from taxinav.serve.priority import lower_thread_priority

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice")


def _nice(tid: int) -> int:
    """Field 19 of /proc/self/task/TID/stat (after the parenthesised command name)."""
    stat = Path(f"/proc/self/task/{tid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def test_only_the_calling_thread_is_lowered() -> None:
    main = threading.get_native_id()
    before = _nice(main)
    seen: dict[str, int] = {}

    def work() -> None:
        tid = threading.get_native_id()
        lower_thread_priority(3)
        seen["worker"] = _nice(tid)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["worker"] == min(before + 3, 19)
    assert _nice(main) == before


def test_zero_changes_nothing() -> None:
    tid = threading.get_native_id()
    before = _nice(tid)
    lower_thread_priority(0)
    assert _nice(tid) == before
