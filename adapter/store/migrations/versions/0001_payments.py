"""payments, shop notification outbox and delivery attempts

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapter.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("pay_id", sa.String(32), primary_key=True),
        sa.Column("merchant_id", sa.String(30), nullable=False),
        sa.Column("trans_id", sa.String(64), nullable=False),
        sa.Column("xid", sa.String(32), nullable=False),
        sa.Column("ref_nr", sa.String(40)),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("result_code", sa.String(64)),
        sa.Column("alipay_payment_id", sa.String(64)),
        sa.Column("checkout_url", sa.Text),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("merchant_id", "trans_id", name="uq_payments_merchant_trans"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pay_id", sa.String(32), sa.ForeignKey("payments.pay_id"), nullable=False),
        sa.Column("final_state", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("pay_id", "final_state", name="uq_notifications_payment_state"),
    )
    op.create_index("ix_notifications_due", "notifications", ["status", "next_attempt_at"])
    op.create_table(
        "notify_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.Integer, sa.ForeignKey("notifications.id"), nullable=False),
        sa.Column("attempted_at", UTCDateTime, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_notify_attempts_notification_id", "notify_attempts", ["notification_id"])


def downgrade() -> None:
    op.drop_table("notify_attempts")
    op.drop_table("notifications")
    op.drop_table("payments")
