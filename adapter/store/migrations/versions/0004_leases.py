"""leases on notifications, ReqId claims and payments; the reconciler's own schedule

Leases (owner + expiry) on notifications, ReqId claims and payments (their lock across
processes); payments and steps get next_check_at and checks, apart from updated_at.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapter.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("notifications", "request_replays"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("lease_owner", sa.String(64)))
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(64)))
        batch.add_column(sa.Column("lease_until", UTCDateTime))
    for table in ("payments", "operations"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("next_check_at", UTCDateTime))
            batch.add_column(
                sa.Column("checks", sa.Integer, nullable=False, server_default=sa.text("0"))
            )
        # Until now updated_at doubled as the reconciler's "last looked at".
        rows = sa.table(table, sa.column("next_check_at"), sa.column("updated_at"))
        op.execute(rows.update().values(next_check_at=rows.c.updated_at))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("next_check_at", existing_type=UTCDateTime, nullable=False)
    op.drop_index("ix_payments_state_checked", "payments")
    op.create_index("ix_payments_due", "payments", ["state", "next_check_at"])
    op.create_index("ix_operations_due", "operations", ["state", "next_check_at"])


def downgrade() -> None:
    op.drop_index("ix_operations_due", "operations")
    op.drop_index("ix_payments_due", "payments")
    op.create_index("ix_payments_state_checked", "payments", ["state", "updated_at"])
    for table in ("payments", "operations"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("checks")
            batch.drop_column("next_check_at")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("lease_until")
    for table in ("notifications", "request_replays", "payments"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lease_owner")
