"""An SMTP sink (tests/support/smtp_sink.py, counting only) in its own process, so that the benchmark's
sender does not share a GIL with the server it measures. Used by bench/send.py and bench/e2e.py."""

from __future__ import annotations

import multiprocessing
import resource
from multiprocessing.connection import Connection
from typing import Any


def serve_sink(latency: float, pipe: Connection) -> None:
    """Child process: run the sink until told to stop, answering the parent's questions:
    "count" → (messages accepted, distinct recipients), "usage" → (CPU seconds, max RSS KiB),
    "clear" → forget what was accepted."""
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


class Sink:
    """The parent's handle: ``url`` to send to, ``ask(command)``, ``stop()``."""

    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=serve_sink, args=(latency, child), daemon=True)
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
