"""indexes for the operators' payment list: newest first by merchant or state, exact search

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The list pages newest first by (created_at, pay_id); each filter has an index in that
    # order, so a page is a short index range whatever the table's size. The unfiltered one
    # also carries what the overview counts per slice of time, which it then reads from the
    # index alone.
    op.create_index(
        "ix_payments_created",
        "payments",
        ["created_at", "pay_id", "state", "currency", "amount"],
    )
    op.create_index(
        "ix_payments_merchant_created", "payments", ["merchant_id", "created_at", "pay_id"]
    )
    # Takes pay_id on, so a state's page needs no sort (its other uses read a prefix of it).
    op.drop_index("ix_payments_state_created", "payments")
    op.create_index("ix_payments_state_created", "payments", ["state", "created_at", "pay_id"])
    # Search by TransID across merchants, and by RefNr.
    op.create_index("ix_payments_trans_id", "payments", ["trans_id"])
    op.create_index("ix_payments_ref_nr", "payments", ["ref_nr"])


def downgrade() -> None:
    op.drop_index("ix_payments_ref_nr", "payments")
    op.drop_index("ix_payments_trans_id", "payments")
    op.drop_index("ix_payments_state_created", "payments")
    op.create_index("ix_payments_state_created", "payments", ["state", "created_at"])
    op.drop_index("ix_payments_merchant_created", "payments")
    op.drop_index("ix_payments_created", "payments")
