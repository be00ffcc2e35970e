"""credits and reversals, ReqId answers

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapter.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("xid", sa.String(32), primary_key=True),
        sa.Column("pay_id", sa.String(32), sa.ForeignKey("payments.pay_id"), nullable=False),
        sa.Column("merchant_id", sa.String(30), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("trans_id", sa.String(64), nullable=False),
        sa.Column("req_id", sa.String(32)),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("result_code", sa.String(64)),
        sa.Column("alipay_id", sa.String(64)),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_operations_payment", "operations", ["pay_id", "kind"])
    op.create_index("ix_operations_open", "operations", ["state", "updated_at"])
    op.create_index(
        "uq_operations_req_id", "operations", ["merchant_id", "kind", "req_id"], unique=True
    )
    op.create_table(
        "request_replays",
        sa.Column("merchant_id", sa.String(30), primary_key=True),
        sa.Column("endpoint", sa.String(16), primary_key=True),
        sa.Column("req_id", sa.String(32), primary_key=True),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_request_replays_age", "request_replays", ["state", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_request_replays_age", "request_replays")
    op.drop_table("request_replays")
    op.drop_index("uq_operations_req_id", "operations")
    op.drop_index("ix_operations_open", "operations")
    op.drop_index("ix_operations_payment", "operations")
    op.drop_table("operations")
