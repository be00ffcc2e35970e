"""Table definitions (SQLAlchemy Core). The schema itself is created by the Alembic migrations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        # SQLite binds through bind_processor below; other backends take aware datetimes.
        return None if value is None else _in_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_text_from_utc
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _utc_from_sqlite_text
        return super().result_processor(dialect, coltype)


def _in_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(UTC)


_SQLITE_TEXT_LENGTH = len("2026-12-06 12:30:05.123456")


def _sqlite_text_from_utc(value: datetime | None) -> str | None:
    # The text SQLAlchemy's SQLite processor writes ("2026-12-06 12:30:05.123456", microseconds
    # always), made by one C call rather than its %-format of seven fields after a conversion
    # to naive UTC, and cut before the "+00:00" rather than made naive first: about 2.6 -> 1.4
    # µs, and a notify binds about ten.
    if value is None:
        return None
    utc = value if value.tzinfo is UTC else _in_utc(value)
    return utc.isoformat(" ", "microseconds")[:_SQLITE_TEXT_LENGTH]


def _utc_from_sqlite_text(value: str | None) -> datetime | None:
    # SQLAlchemy's own SQLite processor parses with a regular expression in Python, three
    # times per payment read; fromisoformat is C and reads every form SQLite holds
    # ("2026-12-06 12:30:05.123456" as SQLAlchemy writes it, or CURRENT_TIMESTAMP's).
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def lease_columns() -> tuple[Column[str], Column[datetime]]:
    """Who works on the row, and until when (``store.leases``)."""
    return Column("lease_owner", String(64)), Column("lease_until", UTCDateTime)


def check_columns() -> tuple[Column[datetime], Column[int]]:
    """When the reconciler looks at the open row next, and how often it has looked already."""
    return (
        Column("next_check_at", UTCDateTime, nullable=False),
        Column("checks", Integer, nullable=False, server_default=text("0")),
    )


def row_columns(table: Table) -> tuple[Column[Any], ...]:
    """The row's own columns: without those saying who works on it and when it is due next,
    which only ``store.leases`` reads (a read of the row converts nothing it does not use)."""
    scheduling = {column.name for column in (*lease_columns(), *check_columns())}
    return tuple(column for column in table.c if column.name not in scheduling)


metadata = MetaData()

payments = Table(
    "payments",
    metadata,
    Column("pay_id", String(32), primary_key=True),
    Column("merchant_id", String(30), nullable=False),
    Column("trans_id", String(64), nullable=False),
    Column("xid", String(32), nullable=False),
    Column("ref_nr", String(40)),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(16), nullable=False),
    Column("result_code", String(64)),
    Column("alipay_payment_id", String(64)),
    Column("checkout_url", Text),
    Column("details", Text, nullable=False),  # JSON: what the shop asked for (URLs, UserData…)
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),  # the last change of the payment itself
    *lease_columns(),  # the payment's lock across processes (core.locks)
    *check_columns(),
    UniqueConstraint("merchant_id", "trans_id", name="uq_payments_merchant_trans"),
)
# The reconciler looks for open payments by when they are due, and by age (expiry, attention).
Index("ix_payments_due", payments.c.state, payments.c.next_check_at)
Index("ix_payments_state_created", payments.c.state, payments.c.created_at, payments.c.pay_id)
# The operators' list, newest first (store.queries), with what the overview counts, and the
# list's exact searches.
Index(
    "ix_payments_created",
    payments.c.created_at,
    payments.c.pay_id,
    payments.c.state,
    payments.c.currency,
    payments.c.amount,
)
Index(
    "ix_payments_merchant_created",
    payments.c.merchant_id,
    payments.c.created_at,
    payments.c.pay_id,
)
Index("ix_payments_trans_id", payments.c.trans_id)
Index("ix_payments_ref_nr", payments.c.ref_nr)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pay_id", String(32), ForeignKey("payments.pay_id"), nullable=False),
    Column("final_state", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("body", Text),  # the form posted, built with the final state (model.ShopNotice)
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    *lease_columns(),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("pay_id", "final_state", name="uq_notifications_payment_state"),
)
Index("ix_notifications_due", notifications.c.status, notifications.c.next_attempt_at)

notify_attempts = Table(
    "notify_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", Integer, ForeignKey("notifications.id"), nullable=False, index=True),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("http_status", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
)

# One row per credit or reversal: its id is the step's XID, and for a credit also the Alipay+
# refundRequestId, so every retry of the same step reuses it.
operations = Table(
    "operations",
    metadata,
    Column("xid", String(32), primary_key=True),
    Column("pay_id", String(32), ForeignKey("payments.pay_id"), nullable=False),
    Column("merchant_id", String(30), nullable=False),
    Column("kind", String(16), nullable=False),  # credit | reverse
    Column("trans_id", String(64), nullable=False),
    Column("req_id", String(32)),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(16), nullable=False),  # PENDING | UNKNOWN | SUCCESS | FAILED
    Column("result_code", String(64)),
    Column("alipay_id", String(64)),  # refundId of a successful refund
    # A reversal whose cancel was refused after the shop was told CANCELLED: refunded instead.
    Column("refund_instead", Boolean, nullable=False, server_default=false()),
    Column("details", Text, nullable=False),  # JSON: RefNr, UserData, Reason to echo / send
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    *check_columns(),
)
Index("ix_operations_payment", operations.c.pay_id, operations.c.created_at, operations.c.xid)
Index("ix_operations_open", operations.c.state, operations.c.updated_at)
Index("ix_operations_due", operations.c.state, operations.c.next_check_at)
Index(
    "uq_operations_req_id",
    operations.c.merchant_id,
    operations.c.kind,
    operations.c.req_id,
    unique=True,
)

# The first finished S2S answer per (merchant, endpoint, ReqId), replayed byte for byte.
request_replays = Table(
    "request_replays",
    metadata,
    Column("merchant_id", String(30), primary_key=True),
    Column("endpoint", String(16), primary_key=True),
    Column("req_id", String(32), primary_key=True),
    Column("fingerprint", String(128), nullable=False),
    Column("state", String(16), nullable=False),  # running | done
    Column("body", Text),
    *lease_columns(),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_request_replays_age", request_replays.c.state, request_replays.c.created_at)

# The event journal: one row per hop of a payment (model.Event), the timeline's source of truth.
events = Table(
    "events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("hop", String(16), nullable=False),
    Column("name", String(64), nullable=False),
    Column("outcome", String(64)),
    Column("pay_id", String(32)),
    Column("merchant_id", String(30)),
    Column("actor", String(64), nullable=False),
    Column("detail", Text),  # JSON
)
Index("ix_events_payment", events.c.pay_id, events.c.id)
Index("ix_events_at", events.c.at)
