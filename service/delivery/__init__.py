"""Delivery: who is due, the digest each gets, and carrying it through the outbox to SMTP.

``planning`` (due digests and the outbox state machine), ``ranking_inputs`` (one reader's ranking
inputs read from the store), ``mailer`` (the outbox and SMTP mailers), ``smtp_pool`` (reused
connections, rate limits), ``bounces``, ``queue`` (procrastinate fan-out), ``runtime`` (the
objects a process builds once) and ``scheduler`` (the APScheduler ticks, a front door: only the
command line imports it).

May import every package below it: ``digest``, ``ledger``, ``subscribers``, ``storage``,
``ranking``, ``sources`` and the core modules.
"""
