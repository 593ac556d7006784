"""Where a run's ready deliveries go: sent in this process (inline), or queued in batches for
``paperboy worker`` processes (``PAPERBOY_DELIVERY_QUEUE=procrastinate``, service/delivery/queue.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from service.delivery.runtime import Runtime


def fan_out(runtime: Runtime) -> Callable[[Sequence[int]], int] | None:
    """The delivery fan-out when PAPERBOY_DELIVERY_QUEUE=procrastinate, else None (send inline)."""
    if runtime.settings.delivery_queue != "procrastinate":
        return None
    # Imported only here: the queue needs procrastinate and psycopg (the optional ``postgres``
    # extra), which an installation that sends inline need not have. Not an import circle: the
    # queue imports nothing of this module.
    from service.delivery import queue

    return lambda ids: queue.enqueue(runtime, ids)
