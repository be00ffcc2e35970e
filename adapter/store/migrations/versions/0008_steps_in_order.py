"""a payment's steps indexed in the order inquire.aspx reads them

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # inquire.aspx reads a payment with its steps oldest first: in this order the steps come
    # off the index already sorted, where (pay_id, kind) left SQLite a temporary B-tree to sort
    # on every inquiry. A payment has a handful of steps, so the reads that also filter by kind
    # lose nothing.
    op.drop_index("ix_operations_payment", "operations")
    op.create_index("ix_operations_payment", "operations", ["pay_id", "created_at", "xid"])


def downgrade() -> None:
    op.drop_index("ix_operations_payment", "operations")
    op.create_index("ix_operations_payment", "operations", ["pay_id", "kind"])
