"""Times sending prebuilt digests to a local aiosmtpd sink: one smtplib connection vs Paperboy's pool.

    .venv/bin/python bench/send.py [--messages 10000] [--baseline-slow 500] [--papers 10]
                                   [--connections 8,16,32] [--latency 0,10] [--no-record]

The digests (each `--papers` seed-page papers, its own address and signed links: bench/build.py's
`make_digests`) are built once, before any timing, as finished `EmailMessage`s. The sink is the
test suite's aiosmtpd server (tests/support/smtp_sink.py, counting only, parsing nothing) in its own
process, answering every MAIL, RCPT, DATA and RSET after the given latency. For each latency:

- baseline: one `smtplib.SMTP` connection, reused, `sendmail(from, [to], wire_bytes(msg))` per
  message: the simplest correct sender;
- Paperboy: `SmtpPool` of N `SmtpMailer` connections (reused, RSET between messages, as
  `paperboy send` uses it; N from `--connections`; the setting's default is 16), the same
  messages through `SmtpPool.run` with a no-op result callback (no database).

At 10 ms a single connection manages ~20 messages/s, so 10,000 would take over 8 minutes: the
baseline sends `--baseline-slow` messages when the latency is above zero (printed beside it).
The sink's count of accepted messages is checked after every run. Prints messages/s and the
ratios, and replaces the "Sending" section of bench/results.md (unless --no-record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import smtplib
import sys
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from build import FROM, LIST_ID, WHEN, cpu_name, make_digests  # noqa: E402
from results import RESULTS, record_section  # noqa: E402
from seeds import seed_papers  # noqa: E402
from sink_process import Sink  # noqa: E402

from service.delivery.smtp_mailer import SmtpMailer  # noqa: E402
from service.delivery.smtp_pool import Job, SmtpPool  # noqa: E402
from service.digest.envelope import envelope  # noqa: E402
from service.digest.message import build_message, wire_bytes  # noqa: E402
from service.digest.render import Renderer  # noqa: E402
from service.digest.samples import BASE_URL  # noqa: E402
from service.resources import templates_dir  # noqa: E402

SECTION = "## Sending over SMTP (`bench/send.py`)"


def build_messages(count: int, papers: int) -> list[EmailMessage]:
    renderer = Renderer(templates_dir())
    messages = []
    for digest in make_digests(seed_papers(), count, papers, unique=False):
        messages.append(
            build_message(renderer.render(digest), to=digest.email, from_addr=FROM, base_url=BASE_URL,
                          unsubscribe_url=digest.links.unsubscribe, list_id=LIST_ID, date=WHEN)
        )  # fmt: skip
    return messages


def baseline(sink: Sink, messages: Sequence[EmailMessage]) -> float:
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=60) as smtp:
        for msg in messages:
            addresses = envelope(msg)
            assert addresses is not None
            smtp.sendmail(addresses[0], addresses[1], wire_bytes(msg))
    return time.perf_counter() - start


def pooled(sink: Sink, messages: Sequence[EmailMessage], connections: int) -> float:
    url = sink.url
    pool = SmtpPool(lambda: SmtpMailer(url, timeout=60), size=connections, breaker_threshold=5)
    start = time.perf_counter()
    run = pool.run((Job(key=i, message=m) for i, m in enumerate(messages)), lambda result: None)
    pool.close()
    seconds = time.perf_counter() - start
    assert run.sent == len(messages), run
    return seconds


def timed(sink: Sink, label: str, count: int, send: Callable[..., float], *args: object) -> float:
    sink.ask("clear")
    seconds = send(sink, *args)
    accepted = sink.count()
    assert accepted == count, f"{label}: the sink accepted {accepted} of {count}"
    rate = count / seconds
    print(
        f"  {label:<40} {count:>6,} messages in {seconds:7.2f} s = {rate:8,.0f} messages/s",
        flush=True,
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--baseline-slow", type=int, default=500, help="baseline messages when latency > 0"
    )
    parser.add_argument(
        "--papers", type=int, default=10, help="papers per digest (the default maximum is 10)"
    )
    parser.add_argument(
        "--connections", default="8,16,32", help="pool sizes to run, comma-separated"
    )
    parser.add_argument("--latency", default="0,10", help="sink latencies in ms, comma-separated")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/results.md")
    args = parser.parse_args()
    sizes = [int(n) for n in args.connections.split(",")]
    latencies = [float(ms) for ms in args.latency.split(",")]

    print(f"building {args.messages:,} digests of {args.papers} papers…", flush=True)
    messages = build_messages(args.messages, args.papers)
    size = sum(len(wire_bytes(m)) for m in messages[:100]) / min(100, len(messages)) / 1024
    print(f"built; {size:,.0f} KiB a message", flush=True)

    rows: list[str] = []
    summary: list[str] = []
    for latency in latencies:
        sink = Sink(latency / 1000)
        try:
            print(f"sink latency {latency:g} ms per reply:", flush=True)
            base_count = args.messages if latency == 0 else min(args.baseline_slow, args.messages)
            note = "" if base_count == args.messages else f" (only {base_count:,}: slow)"
            base = timed(
                sink,
                f"baseline: 1 smtplib connection{note}",
                base_count,
                baseline,
                messages[:base_count],
            )
            rows.append(
                f"| {latency:g} ms | baseline: one reused smtplib connection | {base_count:,} | {base:,.0f} | 1.0× |"
            )
            for connections in sizes:
                rate = timed(
                    sink,
                    f"Paperboy: pool of {connections} connections",
                    args.messages,
                    pooled,
                    messages,
                    connections,
                )
                ratio = rate / base
                print(f"  {'':<40} ratio {ratio:.1f}×", flush=True)
                rows.append(
                    f"| {latency:g} ms | Paperboy: `SmtpPool`, {connections} connections, RSET between messages | {args.messages:,} | {rate:,.0f} | **{ratio:.1f}×** |"
                )
                summary.append(f"{latency:g} ms, {connections} connections: {ratio:.1f}×")
        finally:
            sink.stop()
    print("ratios (pool / baseline): " + "; ".join(summary))
    if not args.no_record:
        record_section(SECTION, [
            f"{dt.date.today().isoformat()}, Python {platform.python_version()} on {cpu_name()} ({os.cpu_count()} CPUs, shared). "
            f"{args.messages:,} prebuilt digests of {args.papers} papers ({size:,.0f} KiB a message); the sink "
            "(tests/support/smtp_sink.py, aiosmtpd, counting only) in its own process on 127.0.0.1, answering MAIL, RCPT, "
            "DATA and RSET after the given latency. Client: one process; the pool's connections are threads.",
            "",
            "| sink latency | sender | messages | messages/s | vs baseline |",
            "|---|---|---:|---:|---:|",
            *rows,
            "",
            "Targets: ≥ 10× the baseline at 10 ms, ≥ 1× at 0 ms; `PAPERBOY_SMTP_CONNECTIONS` defaults to 16. "
            "At 0 ms the sink's one core is the ceiling for everybody; at 10 ms throughput grows with the "
            "connections. The sink delays the replies to MAIL, RCPT, end of DATA and RSET (not the 354 "
            "intermediate reply), so a message costs the baseline three delayed replies and the pool four "
            "(RSET between messages).",
        ])  # fmt: skip
        print(f"recorded in {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
