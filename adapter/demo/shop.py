"""The demo shop: a small legacy Paygate shop for the one-command demo and the browser tests.

Plain HTML forms, no JavaScript needed (one inline script only auto-submits the redirect form).
Everything it receives is kept in memory and exposed at ``/api/orders`` for tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from adapter import resources
from adapter.demo.client import (
    DecodedDelivery,
    PaymentRequest,
    ShopKeys,
    build_request,
    build_s2s_request,
    decode_delivery,
)
from adapter.demo.store import (
    BackOfficeAction,
    BackOfficeCall,
    BrowserReturn,
    Delivery,
    Order,
    ReturnPath,
    ShopStore,
)

CURRENCIES = ("EUR", "USD", "GBP", "CHF", "JPY", "CNY", "HKD", "SGD")
DEVICES = ("DesktopWEB", "MobileWAP", "APP")
BACK_OFFICE_ACTIONS = frozenset(get_args(BackOfficeAction))
DEFAULTS = {"amount": "1250", "currency": "EUR", "orderdesc": "Demo order", "device": "DesktopWEB"}
# '#' would end a URL, '&' split the inner text, '%' and '+' get URL-decoded by some readers.
_FORBIDDEN_DESC = re.compile(r"[#&%+\x00-\x1f\x7f]")
_MAX_DESC = 200


@dataclass
class ShopConfig:
    """Mutable so a test can set ``public_url`` once the server's port is known."""

    keys: ShopKeys
    paygate_url: str
    public_url: str | Callable[[], str]

    @property
    def base_url(self) -> str:
        url = self.public_url() if callable(self.public_url) else self.public_url
        return url.rstrip("/")

    @property
    def entry_url(self) -> str:
        return f"{self.paygate_url.rstrip('/')}/alipayplus.aspx"


def _config(request: Request) -> ShopConfig:
    config: ShopConfig = request.app.state.config
    return config


def _store(request: Request) -> ShopStore:
    store: ShopStore = request.app.state.store
    return store


def _templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return _templates(request).TemplateResponse(request, name, context, status_code=status)


def validate_order(form: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The submitted values (stripped) and what is wrong with them."""
    values = {key: str(form.get(key, default)).strip() for key, default in DEFAULTS.items()}
    errors: list[str] = []
    if not values["amount"].isdigit() or not values["amount"].isascii():
        errors.append("Amount must be a whole number of minor units, e.g. 1250.")
    elif len(values["amount"]) > 10:
        errors.append("Amount has at most 10 digits.")
    if values["currency"] not in CURRENCIES:
        errors.append("Pick a currency from the list.")
    if values["device"] not in DEVICES:
        errors.append("Pick a device from the list.")
    desc = values["orderdesc"]
    if not desc:
        errors.append("Order description must not be empty.")
    elif _FORBIDDEN_DESC.search(desc):
        errors.append("Order description must not contain # & % + or control characters.")
    elif len(desc) > _MAX_DESC:
        errors.append(f"Order description has at most {_MAX_DESC} characters.")
    return values, errors


async def index(request: Request) -> Response:
    return _page(request, "index.html", {"values": DEFAULTS, "errors": [], **_lists(request)})


def _lists(request: Request) -> dict[str, Any]:
    store = _store(request)
    return {
        "orders": list(reversed(store.orders)),
        "unmatched": store.unmatched,
        "currencies": CURRENCIES,
        "devices": DEVICES,
    }


async def checkout(request: Request) -> Response:
    form = await request.form()
    values, errors = validate_order({k: v for k, v in form.items() if isinstance(v, str)})
    if errors:
        context = {"values": values, "errors": errors, **_lists(request)}
        return _page(request, "index.html", context, status=400)
    config = _config(request)
    order = _store(request).create_order(
        amount=int(values["amount"]),
        currency=values["currency"],
        order_desc=values["orderdesc"],
        device=values["device"],
    )
    base = config.base_url
    encrypted = build_request(
        config.keys,
        PaymentRequest(
            trans_id=order.trans_id,
            ref_nr=order.ref_nr,
            amount=order.amount,
            currency=order.currency,
            order_desc=order.order_desc,
            device=order.device,
            # bnl-style pipe list: opaque to Paygate, echoed back inside Data
            # (docs/paygate.md#field-semantics).
            user_data=f"demo|order-{order.n}",
            # Comes back in plain as order=<n>&shop=demo (docs/paygate.md#custom-and-plain).
            custom=f"order={order.n}|shop=demo",
            url_success=f"{base}/result/success",
            url_failure=f"{base}/result/failure",
            url_notify=f"{base}/notify",
        ),
    )
    context = {"order": order, "request_data": encrypted, "action": config.entry_url}
    return _page(request, "redirect.html", context)


async def _outer_params(request: Request) -> dict[str, str]:
    """Query and form body together, the body winning: Paygate may use GET or POST.

    See docs/paygate.md#browser-return.
    """
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _record(store: ShopStore, decoded: DecodedDelivery, delivery: Delivery) -> int | None:
    """File the delivery under its order (or as unmatched); the order number, if any."""
    order = store.find(decoded.trans_id, decoded.custom)
    if order is None:
        store.unmatched.append(delivery)
        return None
    if isinstance(delivery, BrowserReturn):
        order.returns.append(delivery)
    else:
        order.notifies.append(delivery)
    return order.n


def _result_route(path: ReturnPath) -> Callable[[Request], Any]:
    async def result(request: Request) -> Response:
        decoded = decode_delivery(_config(request).keys, await _outer_params(request))
        delivery = BrowserReturn(
            fields=decoded.fields,
            mac_ok=decoded.mac_ok,
            custom=decoded.custom,
            error=decoded.error,
            path=path,
            method=request.method,
        )
        order_n = _record(_store(request), decoded, delivery)
        context = {"path": path, "decoded": decoded, "order_n": order_n}
        return _page(request, "result.html", context, status=400 if decoded.error else 200)

    return result


async def notify(request: Request) -> Response:
    decoded = decode_delivery(_config(request).keys, await _outer_params(request))
    delivery = Delivery(
        fields=decoded.fields, mac_ok=decoded.mac_ok, custom=decoded.custom, error=decoded.error
    )
    _record(_store(request), decoded, delivery)
    # Any non-2xx tells Paygate the delivery failed, so a bad MAC is answered with 400.
    if decoded.mac_ok:
        return PlainTextResponse("OK")
    return PlainTextResponse("ERROR", status_code=400)


async def order_page(request: Request) -> Response:
    order = _store(request).get(int(request.path_params["n"]))
    if order is None:
        return PlainTextResponse("no such order", status_code=404)
    return _page(request, "order.html", {"order": order})


def _back_office_fields(order: Order, action: BackOfficeAction, amount: str) -> dict[str, str]:
    """What a shop back end sends: the step gets its own TransID, like pretix's refunds."""
    fields = {"PayID": order.pay_id or "", "TransID": f"{order.trans_id}-{len(order.calls) + 1}"}
    if action == "credit":
        fields |= {"Amount": amount, "Currency": order.currency, "Reason": "demo refund"}
    elif action == "reverse":
        fields |= {"Amount": str(order.amount), "Currency": order.currency}
    return fields


async def back_office(request: Request) -> Response:
    """Refund, cancel or look up an order server-to-server, then show the order again."""
    order = _store(request).get(int(request.path_params["n"]))
    action = request.path_params["action"]
    if order is None or action not in BACK_OFFICE_ACTIONS:
        return PlainTextResponse("no such order or action", status_code=404)
    if order.pay_id is None:
        return PlainTextResponse("no verified PayID for this order yet", status_code=409)
    form = await request.form()
    amount = form.get("amount")
    amount = amount.strip() if isinstance(amount, str) else ""
    fields = _back_office_fields(order, action, amount)
    config = _config(request)
    url = f"{config.paygate_url.rstrip('/')}/{action}.aspx"
    try:
        async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
            response = await http.post(url, data=build_s2s_request(config.keys, fields))
        decoded = decode_delivery(config.keys, dict(parse_qsl(response.text)))
        call = BackOfficeCall(
            fields=decoded.fields,
            mac_ok=decoded.mac_ok,
            custom=decoded.custom,
            error=decoded.error,
            action=action,
            sent=fields,
        )
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__} calling {url}"
        call = BackOfficeCall({}, False, {}, error=error, action=action, sent=fields)
    order.calls.append(call)
    return RedirectResponse(f"/orders/{order.n}#call-{len(order.calls)}", status_code=303)


async def api_orders(request: Request) -> Response:
    return JSONResponse([order.as_json() for order in _store(request).orders])


def create_shop_app(
    *,
    merchant_id: str,
    hmac_key: str,
    blowfish_key: str,
    paygate_url: str,
    public_url: str | Callable[[], str],
) -> Starlette:
    """The shop app. ``app.state.config.public_url`` may be replaced once the port is known."""
    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/checkout", checkout, methods=["POST"]),
            Route("/result/success", _result_route("success"), methods=["GET", "POST"]),
            Route("/result/failure", _result_route("failure"), methods=["GET", "POST"]),
            Route("/notify", notify, methods=["POST"]),
            Route("/orders/{n:int}", order_page, methods=["GET"]),
            Route("/orders/{n:int}/{action}", back_office, methods=["POST"]),
            Route("/api/orders", api_orders, methods=["GET"]),
        ]
    )
    app.state.config = ShopConfig(
        keys=ShopKeys(merchant_id, hmac_key, blowfish_key),
        paygate_url=paygate_url,
        public_url=public_url,
    )
    app.state.store = ShopStore()
    app.state.templates = resources.templates("demo")
    return app
