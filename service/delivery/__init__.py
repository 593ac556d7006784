"""Delivery: who is due, the digest each gets, and carrying it through the outbox to SMTP.

``planning`` (plan due digests in chunks), ``due`` (the pure due-time rules), ``selection`` (a
digest's papers, facts and previews), ``outbox`` (the outbox state machine: claim, send, record),
``run`` (the Pipeline and the SendReport), ``ranking_inputs`` (one reader's ranking inputs read
from the store), ``mailer`` (the Mailer protocol), ``outbox_mailer`` and ``smtp_mailer`` (with
``smtp_replies``) the mailers, ``smtp_pool`` (reused connections, rate limits), ``bounces``,
``fan_out`` (inline or queued) and ``queue`` (procrastinate fan-out), ``runtime`` (the objects a
process builds once) and ``scheduler`` (the APScheduler ticks, a front door: only the command
line imports it).

May import every package below it: ``digest``, ``ledger``, ``subscribers``, ``storage``,
``ranking``, ``sources`` and the core modules.
"""
