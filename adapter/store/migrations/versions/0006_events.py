"""the event journal

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapter.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("hop", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(64)),
        sa.Column("pay_id", sa.String(32)),
        sa.Column("merchant_id", sa.String(30)),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_events_payment", "events", ["pay_id", "id"])
    op.create_index("ix_events_at", "events", ["at"])


def downgrade() -> None:
    op.drop_table("events")
