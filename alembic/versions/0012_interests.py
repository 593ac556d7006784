"""interests: named interests per subscriber (topics move into them) and their liked papers;
each delivered paper remembers the interest it was picked for

Every subscriber with topics gets one interest named after them ("reinforcement learning,
cs.CL"), holding all their topics. Downgrade folds the interests back: each subscriber keeps the
union of their interests' topics (a topic in two interests once, at its highest weight).

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

NAME_CHARS = 60


def _name(texts: list[str]) -> str:
    # The same rule as service.storage.interests.name_from_topics, frozen here.
    parts: list[str] = []
    for text in texts:
        if text and text not in parts:
            parts.append(text)
    name = " ".join(", ".join(parts).split())
    if len(name) > NAME_CHARS:
        cut = name[: NAME_CHARS - 1]
        if ", " in cut:
            cut = cut[: cut.rindex(", ")]
        name = cut.rstrip(" ,") + "…"
    return name or "My papers"


def upgrade() -> None:
    op.create_table(
        "interests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscribers.id"],
            name=op.f("fk_interests_subscriber_id_subscribers"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interests")),
        sa.UniqueConstraint("subscriber_id", "name", name="uq_interests_subscriber_name"),
    )  # fmt: skip
    op.create_index(op.f("ix_interests_subscriber_id"), "interests", ["subscriber_id"])
    op.create_table(
        "interest_likes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interest_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["interest_id"], ["interests.id"],
            name=op.f("fk_interest_likes_interest_id_interests"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.id"],
            name=op.f("fk_interest_likes_paper_id_papers"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interest_likes")),
        sa.UniqueConstraint("interest_id", "paper_id", name="uq_interest_likes_interest_paper"),
    )  # fmt: skip
    op.create_index(op.f("ix_interest_likes_interest_id"), "interest_likes", ["interest_id"])
    op.create_index(op.f("ix_interest_likes_paper_id"), "interest_likes", ["paper_id"])
    with op.batch_alter_table("topics") as batch:
        batch.add_column(sa.Column("interest_id", sa.Integer(), nullable=True))

    bind = op.get_bind()
    interests = sa.table(
        "interests",
        sa.column("id", sa.Integer()),
        sa.column("subscriber_id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("position", sa.Integer()),
        sa.column("share", sa.Float()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.text("SELECT subscriber_id, kind, text FROM topics ORDER BY subscriber_id, id")
    ).all()
    texts: dict[int, list[str]] = {}
    for subscriber_id, kind, text in rows:
        names = texts.setdefault(subscriber_id, [])
        if kind != "exclude":
            names.append(text)
    now = dt.datetime.now(dt.UTC)
    if texts:
        op.bulk_insert(
            interests,
            [
                {"subscriber_id": sid, "name": _name(t), "position": 0, "share": None,
                 "created_at": now}
                for sid, t in texts.items()
            ],
        )  # fmt: skip
    bind.execute(
        sa.text(
            "UPDATE topics SET interest_id = (SELECT interests.id FROM interests "
            "WHERE interests.subscriber_id = topics.subscriber_id)"
        )
    )
    with op.batch_alter_table("topics") as batch:
        batch.alter_column("interest_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_topics_interest_id_interests"), "interests", ["interest_id"], ["id"],
            ondelete="CASCADE",
        )  # fmt: skip
        batch.create_index(op.f("ix_topics_interest_id"), ["interest_id"])
    with op.batch_alter_table("delivery_items") as batch:
        batch.add_column(sa.Column("interest", sa.String(length=100), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    # A topic in several interests of one subscriber stays once, with its highest weight.
    rows = bind.execute(
        sa.text("SELECT id, subscriber_id, kind, text, weight FROM topics ORDER BY id")
    ).all()
    best: dict[tuple[int, str, str], tuple[int, float]] = {}
    drop: list[int] = []
    for topic_id, subscriber_id, kind, text, weight in rows:
        key = (subscriber_id, kind, text.casefold())
        if key not in best:
            best[key] = (topic_id, weight)
            continue
        kept_id, kept_weight = best[key]
        drop.append(topic_id)
        if weight > kept_weight:
            best[key] = (kept_id, weight)
            bind.execute(
                sa.text("UPDATE topics SET weight = :w WHERE id = :id"),
                {"w": weight, "id": kept_id},
            )
    for start in range(0, len(drop), 500):
        bind.execute(
            sa.text("DELETE FROM topics WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": drop[start : start + 500]},
        )
    with op.batch_alter_table("delivery_items") as batch:
        batch.drop_column("interest")
    with op.batch_alter_table("topics") as batch:
        batch.drop_index(op.f("ix_topics_interest_id"))
        batch.drop_constraint(op.f("fk_topics_interest_id_interests"), type_="foreignkey")
        batch.drop_column("interest_id")
    op.drop_index(op.f("ix_interest_likes_paper_id"), table_name="interest_likes")
    op.drop_index(op.f("ix_interest_likes_interest_id"), table_name="interest_likes")
    op.drop_table("interest_likes")
    op.drop_index(op.f("ix_interests_subscriber_id"), table_name="interests")
    op.drop_table("interests")
