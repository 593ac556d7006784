"""Digests as messages: a ranked digest rendered to HTML and text with its styles inlined, the
MIME message, and the confirmation mail.

``render`` (the Renderer: subject, summary, preheader, templates), ``paper_view`` (one paper as
the templates see it), ``text`` (pure text helpers: URL vetting, cleaning, wrapping, dates),
``inline`` (CSS inlining), ``message`` (the MIME message and its bytes on the wire),
``confirm_mail`` (the double opt-in mail) and ``samples`` (example digests from the bundled
sample papers).

May import: ``service.subscribers``, ``service.ranking``, ``service.sources`` and the core modules;
never storage, never delivery.
"""
