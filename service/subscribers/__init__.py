"""Subscribers: what people type about themselves, the double opt-in, and the signed links.

``validation`` (address, time zone, hour, topics), ``subscriptions`` (subscribe and preference
forms, confirmation), ``tokens`` (signed, expiring links), ``ranking_levels`` (the manage form's
words for the ranking preferences), ``suggest`` (topic suggestions), ``topic_check`` (topics that
matched nothing lately) and ``votes`` (thumbs up and down on a paper).

May import: ``service.storage``, ``service.ranking``, ``service.sources`` and the core modules.
"""
