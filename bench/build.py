"""Times building finished digest emails, the naive way and Paperboy's, and records the figures.

    .venv/bin/python bench/build.py [--digests 2000] [--papers 20] [--no-record]

Each digest has `--papers` papers drawn from the 314 seed-page papers (as a day's digests
draw on a few hundred candidates), filled in with authors, arXiv and code links and upvotes as
Hugging Face listings have them (bench/seeds.py), with signed links shaped like delivery's. A finished message
is its wire bytes. The naive path renders the template, runs premailer over each digest's whole
HTML and builds the message with the email package (quoted-printable, header registry, stdlib
generator), as Paperboy did before; Paperboy's path is Renderer.render → build_message →
wire_bytes. A third run gives every digest papers no other digest has, so no per-paper cache
helps: the worst case. One process, one core. Prints the rates and the ratio and replaces the
"Building digest emails" section of bench/results.md (unless --no-record).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from results import RESULTS, record_section  # bench/ is on sys.path when a script runs
from seeds import seed_papers

from service.digest import paper_view
from service.digest.message import build_message, header_value, wire_bytes
from service.digest.render import Renderer
from service.digest.samples import BASE_URL as BASE
from service.digest.samples import sample_digest
from service.digest.text import wrap_text
from service.records import Candidate, Digest, RenderedDigest, Topic
from service.resources import templates_dir
from service.subscribers.tokens import Signer

SECTION = "## Building digest emails (`bench/build.py`)"
FROM = "Paperboy <digest@paperboy.example.org>"
LIST_ID = "digest.paperboy.example.org"
WHEN = dt.datetime(2025, 11, 21, 7, tzinfo=dt.UTC)
TOPICS = ["reinforcement learning", "language models", "diffusion", "video generation", "reasoning", "agents",
          "segmentation", "robotics", "benchmark", "scaling laws", "retrieval", "multimodal"]  # fmt: skip


def make_digests(
    pool: Sequence[Candidate], count: int, papers: int, *, unique: bool, seed: int = 7
) -> list[Digest]:
    """`count` digests of `papers` papers from `pool` (or, `unique`, papers seen once each)."""
    rng = random.Random(seed)
    signer = Signer("bench-secret-key")
    digests = []
    for i in range(count):
        chosen = rng.sample(list(pool), papers)
        if unique:  # a fresh paper each time: new id and title, so no cache can recognise it
            chosen = [
                dataclasses.replace(p, paper_id=i * papers + j, title=f"{p.title} ({i})")
                for j, p in enumerate(chosen)
            ]
        topics = tuple(Topic("keyword", t) for t in rng.sample(TOPICS, rng.randint(1, 3)))
        digests.append(
            sample_digest(
                chosen, subscriber=i, email=f"reader{i}@example.org", topics=topics, signer=signer
            )
        )
    return digests


def naive_message(rendered: RenderedDigest, *, to: str, unsubscribe_url: str) -> EmailMessage:
    """build_message as it was: header registry, email.contentmanager's quoted-printable."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = header_value(rendered.subject)
    msg["From"] = FROM
    msg["To"] = to
    msg["Date"] = format_datetime(WHEN)
    msg["Message-ID"] = make_msgid(domain="paperboy.example.org")
    msg["List-Id"] = f"<{LIST_ID}>"
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def naive(renderer: Renderer, digest: Digest) -> bytes:
    rendered = renderer.render_reference(digest)  # premailer over the whole HTML
    msg = naive_message(rendered, to=digest.email, unsubscribe_url=digest.links.unsubscribe)
    return msg.as_bytes(policy=policy.SMTP)


def paperboy(renderer: Renderer, digest: Digest) -> bytes:
    msg = build_message(renderer.render(digest), to=digest.email, from_addr=FROM, base_url=BASE,
                        unsubscribe_url=digest.links.unsubscribe, list_id=LIST_ID, date=WHEN)  # fmt: skip
    return wire_bytes(msg)


def forget_caches() -> None:
    """Start each run cold: the per-paper caches fill during the run, as in a real one."""
    paper_view._paper_facts.cache_clear()
    paper_view._reason_labels.cache_clear()
    wrap_text.cache_clear()


def rate(
    label: str,
    build: Callable[[Renderer, Digest], bytes],
    renderer: Renderer,
    digests: Sequence[Digest],
) -> float:
    forget_caches()
    start = time.perf_counter()
    size = 0
    for digest in digests:
        size += len(build(renderer, digest))
    seconds = time.perf_counter() - start
    per_second = len(digests) / seconds
    print(f"{label:<44} {len(digests):>6} messages in {seconds:7.2f} s = {per_second:8,.0f} messages/s"
          f"  ({size / len(digests) / 1024:,.0f} KiB each)")  # fmt: skip
    return per_second


def cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=2000)
    parser.add_argument("--papers", type=int, default=20)
    parser.add_argument(
        "--naive-digests",
        type=int,
        default=None,
        help="digests for the naive path (default: --digests)",
    )
    parser.add_argument("--no-record", action="store_true", help="do not write bench/results.md")
    args = parser.parse_args()

    pool = seed_papers()
    renderer = Renderer(templates_dir())
    shared = make_digests(pool, args.digests, args.papers, unique=False)
    unique = make_digests(pool, args.digests, args.papers, unique=True)
    naive_count = args.naive_digests or args.digests
    print(
        f"{args.digests} digests of {args.papers} papers from a pool of {len(pool)}; Python {platform.python_version()}, {cpu_name()}"
    )

    slow = rate(
        "naive: premailer per digest + email package", naive, renderer, shared[:naive_count]
    )
    fast = rate("Paperboy: styles inlined once + wire_bytes", paperboy, renderer, shared)
    cold = rate("Paperboy, no paper shared between digests", paperboy, renderer, unique)
    print(f"speed-up: {fast / slow:.1f}x (worst case {cold / slow:.1f}x)")

    if not args.no_record:
        record_section(SECTION, [
            f"{dt.date.today().isoformat()}, Python {platform.python_version()} on {cpu_name()}, one process "
            f"({os.cpu_count()} CPUs present, one used). {args.digests:,} digests of {args.papers} papers drawn from the "
            f"{len(pool)} seed-page papers (with authors, arXiv, PDF and code links, upvotes: `bench/seeds.py`), each "
            "to its own address with its own signed links; a finished message is its wire bytes.",
            "",
            "| path | messages/s |",
            "|---|---:|",
            f"| naive: render, premailer over the whole HTML, `EmailMessage` + `as_bytes` ({naive_count:,} digests) | {slow:,.0f} |",
            f"| Paperboy: `Renderer.render` (styles inlined once) → `build_message` → `wire_bytes` | {fast:,.0f} |",
            f"| Paperboy, worst case: no paper shared between digests, so no per-paper cache hit | {cold:,.0f} |",
            "",
            f"Speed-up: **{fast / slow:.1f}×** ({cold / slow:.1f}× in the worst case).",
        ])  # fmt: skip
        print(
            f"recorded in {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
