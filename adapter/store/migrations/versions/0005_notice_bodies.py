"""shop notifications keep the body built with their final state; exhausted ones are dead

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_notifications = sa.table("notifications", sa.column("status", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("body", sa.Text))
    op.execute(
        _notifications.update().where(_notifications.c.status == "failed").values(status="dead")
    )


def downgrade() -> None:
    op.execute(
        _notifications.update().where(_notifications.c.status == "dead").values(status="failed")
    )
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("body")
