"""The page behind normalUrl: the simulated shopper pays, declines, or just leaves."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from adapter import resources
from adapter.sandbox.engine import Engine
from adapter.sandbox.store import Payment, Store
from adapter.sandbox.validation import Amount

TEMPLATES = resources.templates()

# ISO-4217 currencies without minor units; every other allowed currency has two decimals.
_ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX"})


def display_amount(amount: Amount) -> str:
    if amount.currency in _ZERO_DECIMAL:
        return f"{amount.value:,}"
    return f"{amount.value // 100:,}.{amount.value % 100:02d}"


def checkout_routes(engine: Engine, store: Store) -> list[Route]:
    def find(request: Request) -> Payment | None:
        return store.by_token(request.path_params["token"])

    async def show(request: Request) -> Response:
        payment = find(request)
        if payment is None:
            return HTMLResponse("<h1>Unknown or expired checkout link</h1>", status_code=404)
        engine.open_checkout(payment)
        context = {
            "payment": payment,
            "amount": display_amount(payment.amount),
            "action": request.url.path,
        }
        return TEMPLATES.TemplateResponse(request, "sandbox/checkout.html", context)

    async def decide(request: Request) -> Response:
        payment = find(request)
        if payment is None:
            return HTMLResponse("<h1>Unknown or expired checkout link</h1>", status_code=404)
        choice = (await request.form()).get("action")
        if choice not in ("pay", "decline"):
            return HTMLResponse("<h1>Choose pay or decline</h1>", status_code=400)
        # A payment that is no longer open (expired, cancelled, decided in another tab)
        # keeps its state; the shopper is only sent on.
        engine.complete(payment, paid=choice == "pay")
        return RedirectResponse(payment.redirect_url or request.url.path, status_code=303)

    return [
        Route("/checkout/{token}", show, methods=["GET"]),
        Route("/checkout/{token}", decide, methods=["POST"]),
    ]
