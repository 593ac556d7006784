"""An SMTP sink in its own process, so that the benchmark's sender does not share a GIL with the
server it measures: tests/support/smtp_sink.py (aiosmtpd, counting only), or with ``lean=True``
bench/lean_sink.py (one asyncio protocol, a fifth of aiosmtpd's CPU per message). Used by
bench/send.py, bench/worker.py and bench/e2e.py."""

from __future__ import annotations

import multiprocessing
import resource
from multiprocessing.connection import Connection
from typing import Any


def serve_sink(latency: float, pipe: Connection, lean: bool = False) -> None:
    """Child process: run the sink until told to stop, answering the parent's questions:
    "count" → (messages accepted, distinct recipients), "usage" → (CPU seconds, max RSS KiB),
    "clear" → forget what was accepted."""
    if lean:
        serve_lean(latency, pipe)
        return
    from tests.support.smtp_sink import SmtpSink

    with SmtpSink(record=False, latency=latency) as sink:
        pipe.send(sink.port)
        while True:
            command = pipe.recv()
            if command == "count":
                pipe.send((sum(sink.accepted.values()), len(sink.accepted)))
            elif command == "usage":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                pipe.send((usage.ru_utime + usage.ru_stime, usage.ru_maxrss))
            elif command == "clear":
                sink.clear()
                pipe.send(True)
            else:
                break


def serve_lean(latency: float, pipe: Connection) -> None:
    """serve_sink with bench/lean_sink.py: its event loop in a thread, the questions in this one
    (answered on the loop, so the counts are read between two messages)."""
    import asyncio
    import threading

    from lean_sink import LeanSink

    sink = LeanSink(latency)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def ask(command: str) -> Any:
        if command == "count":
            return (sum(sink.accepted.values()), len(sink.accepted))
        sink.clear()
        return True

    pipe.send(asyncio.run_coroutine_threadsafe(sink.start(), loop).result())
    while True:
        command = pipe.recv()
        if command in ("count", "clear"):
            pipe.send(asyncio.run_coroutine_threadsafe(ask(command), loop).result())
        elif command == "usage":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            pipe.send((usage.ru_utime + usage.ru_stime, usage.ru_maxrss))
        else:
            break
    loop.call_soon_threadsafe(loop.stop)


class Sink:
    """The parent's handle: ``url`` to send to, ``ask(command)``, ``stop()``."""

    def __init__(self, latency: float, *, lean: bool = False) -> None:
        self.lean = lean
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=serve_sink, args=(latency, child, lean), daemon=True)
        self.process.start()
        self.port = self.pipe.recv()
        self.url = f"smtp://127.0.0.1:{self.port}"

    def ask(self, command: str) -> Any:
        self.pipe.send(command)
        return self.pipe.recv()

    def count(self) -> int:
        return int(self.ask("count")[0])

    def stop(self) -> None:
        self.pipe.send("stop")
        self.process.join(timeout=10)
