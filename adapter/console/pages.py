"""The console's pages: overview, payments, one payment, failing and dead shop notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from adapter.console.charts import activity_chart, age_chart
from adapter.console.sessions import Session
from adapter.console.site import Site, duration
from adapter.core.operator import overview, payment_file, queries
from adapter.model import PaymentState
from adapter.paygate.numbers import ascii_number
from adapter.store.queries import AgeBand, Backlog, Cursor, PaymentFilter

PAGE_SIZE = 50
MAX_SEARCH = 64
FILTER_KEYS = ("merchant", "state", "from", "to", "q")


@dataclass(frozen=True)
class Window:
    """A span the overview shows, in slices, each labelled in the given time format."""

    span: timedelta
    slices: int
    label: str


WINDOWS = {
    "24h": Window(timedelta(hours=24), 24, "%H:%M"),
    "7d": Window(timedelta(days=7), 28, "%m-%d %H:%M"),
    "30d": Window(timedelta(days=30), 30, "%m-%d"),
}


def _describe_band(band: AgeBand) -> str:
    if band.younger_than is None:
        return f"over {duration(band.older_than)}"
    if not band.older_than:
        return f"under {duration(band.younger_than)}"
    return f"{duration(band.older_than)} to {duration(band.younger_than)}"


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


# Outcomes of "reconcile now" the payment page explains; anything else in the link is ignored.
RECONCILE_OUTCOMES = {
    **{state.value: f"the payment is {state.value}" for state in PaymentState},
    **{
        f"{state.value}, still open": f"the payment is {state.value}; something is still open"
        for state in PaymentState
    },
    "busy": "other work held the payment; nothing was asked, try again in a moment",
    "not found": "no such payment",
    "error": "it failed; see the adapter's log",
}


class Pages:
    def __init__(self, site: Site) -> None:
        self.site = site

    async def overview(self, request: Request, session: Session) -> Response:
        chosen = request.query_params.get("window", "24h")
        window = WINDOWS.get(chosen) or WINDOWS["24h"]
        seen = await overview(self.site.ctx(request), window=window.span, slices=window.slices)
        values = {
            "section": "overview",
            "window": chosen if chosen in WINDOWS else "24h",
            "windows": list(WINDOWS),
            "seen": seen,
            "activity": activity_chart(seen.buckets, lambda start: start.strftime(window.label)),
            "ages": age_chart(seen.ages, _describe_band),
            "totals": {
                "created": sum(b.created for b in seen.buckets),
                "paid": sum(b.succeeded for b in seen.buckets),
                "failed": sum(b.failed for b in seen.buckets),
                "open": sum(b.open for b in seen.buckets),
            },
        }
        return self.site.render(request, "overview.html", values, session=session)

    async def payments(self, request: Request, session: Session) -> Response:
        params = request.query_params
        problems: list[str] = []
        state = None
        if params.get("state"):
            try:
                state = PaymentState(params["state"])
            except ValueError:
                problems.append("unknown state")
        created_from, until = _day(params.get("from", "")), _day(params.get("to", ""))
        if params.get("from") and created_from is None:
            problems.append("'from' must be a date, YYYY-MM-DD")
        if params.get("to") and until is None:
            problems.append("'to' must be a date, YYYY-MM-DD")
        chosen = PaymentFilter(
            merchant_id=params.get("merchant", "").strip()[:30] or None,
            state=state,
            created_from=_start_of(created_from) if created_from else None,
            created_before=_start_of(until + timedelta(days=1)) if until else None,
            search=params.get("q", "").strip()[:MAX_SEARCH] or None,
        )
        after = Cursor.decode(params.get("after", ""))
        page = await queries(self.site.ctx(request)).payments_page(
            chosen, after=after, limit=PAGE_SIZE
        )
        kept = {k: v for k, v in params.items() if k != "after" and v}
        values = {
            "section": "payments",
            "page": page,
            "filter": {
                key: params.get(key, "") for key in ("merchant", "state", "from", "to", "q")
            },
            "states": [s.value for s in PaymentState],
            "problems": problems,
            "paged": after is not None,
            "first_query": urlencode(kept),
            "next_query": urlencode({**kept, "after": page.next.encode()}) if page.next else None,
        }
        return self.site.render(request, "payments.html", values, session=session)

    async def payment(self, request: Request, session: Session) -> Response:
        found = await payment_file(self.site.ctx(request), request.path_params["pay_id"])
        if found is None:
            return self.site.render(
                request,
                "not_found.html",
                {"section": "payments", "what": "payment"},
                session=session,
                status_code=404,
            )
        reconciled = request.query_params.get("reconciled", "")
        values = {
            "section": "payments",
            "file": found,
            "reconciled": RECONCILE_OUTCOMES.get(reconciled),
            "requeued": _count(request.query_params.get("requeued")),
        }
        return self.site.render(request, "payment.html", values, session=session)

    async def notifications(self, request: Request, session: Session) -> Response:
        params = request.query_params
        try:
            backlog = Backlog(params.get("show", Backlog.FAILED.value))
        except ValueError:
            backlog = Backlog.FAILED
        merchant = params.get("merchant", "").strip()[:30] or None
        before = params.get("before", "")
        before_id = ascii_number(before, max_digits=18)
        lines = await queries(self.site.ctx(request)).notifications(
            backlog, merchant_id=merchant, before_id=before_id, limit=PAGE_SIZE
        )
        kept = {"show": backlog.value, **({"merchant": merchant} if merchant else {})}
        values = {
            "section": "notifications",
            "lines": lines,
            "backlog": backlog,
            "backlogs": list(Backlog),
            "merchant": merchant or "",
            "requeued": _count(params.get("requeued")),
            "here": f"{request.url.path}?{urlencode(kept)}",
            "first_query": urlencode(kept),
            "next_query": (
                urlencode({**kept, "before": lines[-1].id}) if len(lines) == PAGE_SIZE else None
            ),
        }
        return self.site.render(request, "notifications.html", values, session=session)


def _count(text: str | None) -> int | None:
    return ascii_number(text, max_digits=8) if text else None
