"""The worker's collector settings (service/delivery/heap.py): startup's objects are frozen out
of the collector's passes, which run less often, and a reference cycle made afterwards is
still freed without anyone calling gc.collect(). In a process of its own: freezing the test
run's heap would change every test after it."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc, weakref
from service.delivery.heap import YOUNG_THRESHOLD, settle_heap
settle_heap()
class Node:
    pass
node = Node()
node.me = node  # a cycle: reference counting alone never frees it
gone = weakref.ref(node)
del node
alive_before = gone() is not None
junk = [[] for _ in range(3 * YOUNG_THRESHOLD)]  # allocations enough for the collector to run
del junk
print(alive_before, gone() is None, gc.get_freeze_count() > 0, gc.get_threshold()[0] == YOUNG_THRESHOLD)
"""


def test_a_settled_worker_still_frees_reference_cycles() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["True", "True", "True", "True"]
