"""What operators change from the console: resend shop notifications, reconcile a payment now.
Both go through ``core.operator``, as the CLI's commands do, and are journalled with the name."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from adapter.console.sessions import Session
from adapter.console.site import Form, Site, base, first, safe_return
from adapter.core.operator import Actor, reconcile_payment, requeue_notifications
from adapter.paygate.numbers import ascii_number
from adapter.store.payments import NotificationSelection

MAX_SELECTED = 1000


def _actor(session: Session) -> Actor:
    return Actor(session.operator, "console")


def _with(target: str, **params: str | int) -> str:
    separator = "&" if "?" in target else "?"
    return f"{target}{separator}{urlencode(params)}"


class Actions:
    def __init__(self, site: Site) -> None:
        self.site = site

    async def reconcile(self, request: Request, session: Session, form: Form) -> Response:
        ctx = self.site.ctx(request)
        pay_id = request.path_params["pay_id"]
        result = await reconcile_payment(ctx, pay_id, _actor(session))
        await ctx.journal.flush()  # the page shows the timeline with this action in it
        target = f"{base(request)}/payments/{pay_id}"
        return RedirectResponse(_with(target, reconciled=result.outcome), status_code=303)

    async def resend(self, request: Request, session: Session, form: Form) -> Response:
        """Resend the ticked notifications, or all dead ones (of the merchant shown): the
        outbox of this process sends each once, now."""
        numbers = (ascii_number(value, max_digits=18) for value in form.get("ids", []))
        ids = tuple(number for number in numbers if number is not None)
        selection = NotificationSelection(
            ids=ids[:MAX_SELECTED],
            pay_id=first(form, "pay_id") or None,
            merchant_id=first(form, "merchant") or None,
            dead_only=first(form, "all_dead") == "1",
        )
        back = safe_return(request, first(form, "back"))
        if selection.is_empty:
            return RedirectResponse(_with(back, requeued=0), status_code=303)
        requeued = await requeue_notifications(self.site.ctx(request), selection, _actor(session))
        return RedirectResponse(_with(back, requeued=len(requeued)), status_code=303)
