"""The store: every query Paperboy makes, through one face.

Callers use ``from service.storage import store`` and ``store.get_subscriber(session, ...)``;
the queries live in modules per entity and are re-exported here (deliberately: callers need
not know which module holds what). Keyword-only arguments, a session first; the caller commits.

- ``papers``: papers, sightings, arXiv categories, embeddings, recent terms and match counts
- ``subscribers``: subscribers, topics, settings and preferences, confirmation, deletion
- ``interests``: a subscriber's named interests (order, share, topics) and their liked papers
- ``suppression``: bounced and complained addresses, soft bounces
- ``deliveries``: deliveries and their items, claims and leases, queueing, counts and errors
- ``delivery_batches``: the outbox a batch at a time: claim, load, record many in one go
- ``delivery_history``: what each subscriber was sent: history for planning, the archive
- ``retention``: pruning the detail of old digests
- ``votes``: feedback votes
- ``runs``: ingest runs and HTTP validators
- ``health``: database activity and integrity, delivery queue status
- ``ratelimits``: rate-limit hits of the web front

Shared helpers are in ``_common`` (chunking, status groups). Where callers only read, the
queries return frozen records (``rows``) instead of live ORM objects.
"""

from __future__ import annotations

from service.storage._common import GIVEN, MAILABLE, NOT_SENT, OPEN_DELIVERY, SUPPRESSED
from service.storage.deliveries import (
    count_deliveries_by_status,
    count_delivery_items,
    create_deliveries,
    create_delivery,
    deliveries_for,
    deliveries_to_queue,
    delivery_items,
    finish_delivery,
    get_delivery,
    recent_delivery_errors,
    refresh_delivery_statistics,
)
from service.storage.delivery_batches import (
    Claimed,
    Finished,
    claim_deliveries,
    emails_of_deliveries,
    finish_deliveries,
    items_of_deliveries,
    last_digest_dates,
)
from service.storage.delivery_history import (
    last_digest_date,
    last_sent_at,
    planning_history,
    received_paper_ids,
    resumable_subscriber_ids,
    sent_digests,
)
from service.storage.health import (
    database_activity,
    integrity_problems,
    queue_jobs_waiting,
    queue_status,
    touch_database,
)
from service.storage.interest_rows import interests_of
from service.storage.interests import (
    MAX_INTERESTS,
    MAX_LIKES,
    add_interest,
    add_interest_likes,
    add_interest_topic,
    count_interests,
    first_interest,
    get_interest,
    get_interest_by_id,
    interest_ids,
    interest_ids_of,
    list_interests,
    move_interest,
    name_from_topics,
    remove_interest,
    remove_interest_like,
    remove_interest_topic,
    rename_interest,
    set_interest_share,
    set_interest_topics,
)
from service.storage.papers import (
    add_sightings,
    arxiv_ids_without_categories,
    candidates_since,
    count_papers,
    fill_categories,
    find_paper_ids,
    insert_paper,
    latest_papers,
    paper_embeddings,
    paper_ids,
    paper_states,
    papers_by_id,
    recent_match_counts,
    recent_paper_terms,
    save_paper_embeddings,
    sighting_observations,
    sources_of_papers_seen,
    to_candidate,
    trending_papers,
    update_paper,
    upvotes_before,
)
from service.storage.ratelimits import (
    count_hit,
)
from service.storage.retention import prune_deliveries
from service.storage.runs import (
    finish_ingest_run,
    http_validators,
    ingest_runs,
    last_clean_ingest,
    last_ingest_per_source,
    quiet_source_runs,
    save_http_validators,
    start_ingest_run,
)
from service.storage.steering import add_exclude_topic
from service.storage.subscriber_rows import subscribers_by_id
from service.storage.subscribers import (
    add_subscriber,
    add_subscribers_bulk,
    confirm_subscriber,
    count_subscribers_by_status,
    delete_subscriber,
    due_subscribers,
    ensure_subscriber,
    get_subscriber,
    get_subscriber_by_id,
    list_subscribers,
    purge_subscriber,
    replace_topics,
    request_confirmation,
    set_next_due,
    set_ranking_preferences,
    set_subscriber_status,
    update_subscriber,
    wake_waiting_subscribers,
)
from service.storage.suppression import (
    clear_soft_bounces,
    is_suppressed,
    record_soft_bounce,
    suppress_subscriber,
    unsuppress_subscriber,
)
from service.storage.votes import (
    feedback_votes,
    record_feedback,
)

__all__ = [
    "Claimed",
    "Finished",
    "claim_deliveries",
    "emails_of_deliveries",
    "finish_deliveries",
    "items_of_deliveries",
    "last_digest_dates",
    "subscribers_by_id",
    "wake_waiting_subscribers",
    "set_next_due",
    "resumable_subscriber_ids",
    "prune_deliveries",
    "due_subscribers",
    "GIVEN",
    "MAILABLE",
    "MAX_INTERESTS",
    "MAX_LIKES",
    "NOT_SENT",
    "OPEN_DELIVERY",
    "SUPPRESSED",
    "add_exclude_topic",
    "add_interest",
    "add_interest_likes",
    "add_interest_topic",
    "add_sightings",
    "add_subscriber",
    "add_subscribers_bulk",
    "arxiv_ids_without_categories",
    "candidates_since",
    "clear_soft_bounces",
    "confirm_subscriber",
    "count_deliveries_by_status",
    "count_delivery_items",
    "count_hit",
    "count_interests",
    "count_papers",
    "count_subscribers_by_status",
    "create_deliveries",
    "create_delivery",
    "database_activity",
    "delete_subscriber",
    "deliveries_for",
    "deliveries_to_queue",
    "delivery_items",
    "ensure_subscriber",
    "feedback_votes",
    "fill_categories",
    "find_paper_ids",
    "finish_delivery",
    "finish_ingest_run",
    "first_interest",
    "get_delivery",
    "get_interest",
    "get_interest_by_id",
    "get_subscriber",
    "get_subscriber_by_id",
    "http_validators",
    "ingest_runs",
    "insert_paper",
    "integrity_problems",
    "interest_ids",
    "interest_ids_of",
    "interests_of",
    "is_suppressed",
    "last_clean_ingest",
    "last_digest_date",
    "last_ingest_per_source",
    "last_sent_at",
    "latest_papers",
    "list_interests",
    "list_subscribers",
    "move_interest",
    "name_from_topics",
    "paper_embeddings",
    "paper_ids",
    "paper_states",
    "papers_by_id",
    "planning_history",
    "purge_subscriber",
    "queue_jobs_waiting",
    "queue_status",
    "quiet_source_runs",
    "received_paper_ids",
    "recent_delivery_errors",
    "recent_match_counts",
    "recent_paper_terms",
    "record_feedback",
    "record_soft_bounce",
    "refresh_delivery_statistics",
    "remove_interest",
    "remove_interest_like",
    "remove_interest_topic",
    "rename_interest",
    "replace_topics",
    "request_confirmation",
    "save_http_validators",
    "save_paper_embeddings",
    "sent_digests",
    "set_interest_share",
    "set_interest_topics",
    "set_ranking_preferences",
    "set_subscriber_status",
    "sighting_observations",
    "sources_of_papers_seen",
    "start_ingest_run",
    "suppress_subscriber",
    "to_candidate",
    "touch_database",
    "trending_papers",
    "unsuppress_subscriber",
    "update_paper",
    "update_subscriber",
    "upvotes_before",
]
