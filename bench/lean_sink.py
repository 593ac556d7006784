"""A counting SMTP sink that costs the machine little: one asyncio protocol that answers each
command line at once (or after `latency` seconds) and finds the end of DATA by searching the
received bytes, not line by line.

Why not tests/support/smtp_sink.py (aiosmtpd) here: on the 2-core bench machine aiosmtpd spent
about 1 ms of CPU per 50 kB message reading DATA a line at a time, a quarter of all the CPU the
delivery stage used, which the benchmark then could not give to Paperboy's workers. The tests
keep aiosmtpd, the reference server; this sink only counts, and checks what a counting sink can:
each message arrives after MAIL and RCPT, ends with CRLF "." CRLF, and has no bare line feed.

    sink = LeanSink(latency=0.0); await sink.start(); ...; sink.accepted  # recipient -> count
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter

_ADDRESS = re.compile(rb"<([^>]*)>")
_END = b"\r\n.\r\n"


class _Session(asyncio.Protocol):
    def __init__(self, sink: LeanSink) -> None:
        self.sink = sink
        self.buffer = bytearray()
        self.in_data = False
        self.sender: bytes | None = None
        self.recipients: list[str] = []
        self.transport: asyncio.Transport | None = None
        self.replies: asyncio.Queue[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sink.connections += 1
        if self.sink.latency:
            self.replies = asyncio.Queue()
            asyncio.get_running_loop().create_task(self._answer_late())
        transport.write(b"220 lean-sink ESMTP\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        if self.replies is not None:
            self.replies.put_nowait(b"")

    async def _answer_late(self) -> None:
        assert self.replies is not None and self.transport is not None
        while reply := await self.replies.get():
            await asyncio.sleep(self.sink.latency)
            if not self.transport.is_closing():
                self.transport.write(reply)

    def _reply(self, line: bytes, *, delayed: bool = True) -> None:
        assert self.transport is not None
        if self.replies is not None and delayed:
            self.replies.put_nowait(line)
        else:
            self.transport.write(line)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.in_data:
                end = self.buffer.find(_END)
                if end < 0:
                    return
                message = bytes(self.buffer[: end + 2])
                del self.buffer[: end + len(_END)]
                self.in_data = False
                self._message(message)
                continue
            newline = self.buffer.find(b"\r\n")
            if newline < 0:
                return
            line = bytes(self.buffer[:newline])
            del self.buffer[: newline + 2]
            self._command(line)

    def _command(self, line: bytes) -> None:
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            self._reply(
                b"250-lean-sink\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n",
                delayed=False,
            )
        elif verb == b"MAIL":
            self.sender, self.recipients = line, []
            self._reply(b"250 2.1.0 OK\r\n")
        elif verb == b"RCPT":
            found = _ADDRESS.search(line)
            if self.sender is None or found is None:
                self._reply(b"503 5.5.1 MAIL first\r\n")
                return
            self.recipients.append(found.group(1).decode("utf-8", "replace"))
            self._reply(b"250 2.1.5 OK\r\n")
        elif verb == b"DATA":
            if not self.recipients:
                self._reply(b"503 5.5.1 RCPT first\r\n")
                return
            self.in_data = True
            self._reply(b"354 end with <CRLF>.<CRLF>\r\n", delayed=False)
        elif verb == b"RSET":
            self.sender, self.recipients = None, []
            self._reply(b"250 2.0.0 OK\r\n")
        elif verb == b"NOOP":
            self._reply(b"250 2.0.0 OK\r\n", delayed=False)
        elif verb == b"QUIT":
            assert self.transport is not None
            self.transport.write(b"221 2.0.0 bye\r\n")
            self.transport.close()
        else:
            self._reply(b"502 5.5.2 not implemented\r\n", delayed=False)

    def _message(self, message: bytes) -> None:
        bare = message.count(b"\n") != message.count(b"\r\n")
        if bare:
            self.sink.refused += 1
            self._reply(b"550 5.6.0 bare line feed\r\n")
        else:
            self.sink.accepted.update(self.recipients)
            self._reply(b"250 2.0.0 queued\r\n")
        self.sender, self.recipients = None, []


class LeanSink:
    """The server: ``accepted`` counts messages per recipient; ``refused`` those with a bare LF."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.accepted: Counter[str] = Counter()
        self.refused = 0
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Session(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def clear(self) -> None:
        self.accepted.clear()
        self.refused = 0
