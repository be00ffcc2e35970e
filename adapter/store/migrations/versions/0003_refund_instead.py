"""reversals settled by a refund; indexes for the reconciler's queries

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operations") as batch:
        batch.add_column(
            sa.Column("refund_instead", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_index("ix_payments_state_checked", "payments", ["state", "updated_at"])
    op.create_index("ix_payments_state_created", "payments", ["state", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_payments_state_created", "payments")
    op.drop_index("ix_payments_state_checked", "payments")
    with op.batch_alter_table("operations") as batch:
        batch.drop_column("refund_instead")
