"""Test-control API under /_sim/ (not part of Alipay+): plain JSON, no signatures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapter.sandbox.calls import CallLog
from adapter.sandbox.clock import SimClock
from adapter.sandbox.engine import Engine
from adapter.sandbox.faults import FaultBook, parse_fault
from adapter.sandbox.notifier import Notifier, NotifyMode, parse_policy
from adapter.sandbox.store import Payment, Store

Handler = Callable[[Request], Awaitable[Response]]


class ControlError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


def ledger(payment: Payment) -> dict[str, Any]:
    """The sandbox's own view of a payment; amounts are integers in minor units."""
    return {
        "clientId": payment.client_id,
        "paymentRequestId": payment.payment_request_id,
        "paymentId": payment.payment_id,
        "state": payment.state.value,
        "resultCode": payment.fail_code,
        "amount": payment.amount.value,
        "currency": payment.amount.currency,
        "refunded": payment.refunded,
        "refunds": [
            {
                "refundRequestId": r.refund_request_id,
                "refundId": r.refund_id,
                "amount": r.amount.value,
                "status": "SUCCESS" if r.succeeded else "FAIL",
                "resultCode": r.result_code,
            }
            for r in payment.refunds
        ],
        "cancelled": payment.cancelled_at is not None,
        "created": payment.created.isoformat(),
        "expires": payment.expires.isoformat(),
        "paymentTime": payment.payment_time.isoformat() if payment.payment_time else None,
        "notifyUrl": payment.notify_url,
        "redirectUrl": payment.redirect_url,
    }


def _handled(handler: Handler) -> Handler:
    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except ControlError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status_code)

    return wrapper


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ControlError(400, "the body is not valid JSON") from None


def _number(data: Any, key: str) -> float:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ControlError(400, f"{key} must be a non-negative number")
    return float(value)


def control_routes(
    *,
    clock: SimClock,
    store: Store,
    engine: Engine,
    faults: FaultBook,
    calls: CallLog,
    notifier: Notifier,
) -> list[Route]:
    def payment_of(request: Request) -> Payment:
        # ?client_id= picks the client when several reuse a paymentRequestId.
        payment_request_id = request.path_params["payment_request_id"]
        matches = store.find(payment_request_id, request.query_params.get("client_id"))
        if not matches:
            raise ControlError(404, f"no payment {payment_request_id!r}")
        if len(matches) > 1:
            raise ControlError(409, "several clients use this id; pass ?client_id=")
        engine.refresh(matches[0])
        return matches[0]

    async def add_fault(request: Request) -> Response:
        try:
            fault = parse_fault(await _json(request))
        except ValueError as error:
            raise ControlError(400, str(error)) from None
        faults.add(fault)
        return JSONResponse(fault.to_json(), status_code=201)

    async def replace_faults(request: Request) -> Response:
        data = await _json(request)
        if not isinstance(data, list):
            raise ControlError(400, "expected a JSON list of faults")
        try:
            replacements = [parse_fault(item) for item in data]
        except ValueError as error:
            raise ControlError(400, str(error)) from None
        faults.replace(replacements)
        return JSONResponse([fault.to_json() for fault in replacements])

    async def clear_faults(request: Request) -> Response:
        return JSONResponse({"cleared": faults.clear()})

    async def show_payment(request: Request) -> Response:
        return JSONResponse(ledger(payment_of(request)))

    async def complete(request: Request) -> Response:
        data = await _json(request)
        status = data.get("status") if isinstance(data, dict) else None
        code = data.get("result_code") if isinstance(data, dict) else None
        if status not in ("S", "F") or not (code is None or (isinstance(code, str) and code)):
            raise ControlError(400, 'status must be "S" or "F"; result_code a non-empty string')
        payment = payment_of(request)
        if not engine.complete(payment, paid=status == "S", code=code):
            raise ControlError(409, f"the payment is already {payment.state}")
        return JSONResponse(ledger(payment))

    async def set_policy(request: Request) -> Response:
        try:
            notifier.policy = parse_policy(await _json(request))
        except ValueError as error:
            raise ControlError(400, str(error)) from None
        policy = notifier.policy
        return JSONResponse({"mode": policy.mode.value, "delay_seconds": policy.delay_seconds})

    async def send_notification(request: Request) -> Response:
        payment = payment_of(request)
        if payment.notification is None:
            raise ControlError(409, f"the payment is {payment.state}; nothing to notify")
        bad = notifier.policy.mode is NotifyMode.BAD_SIGNATURE
        attempt = await notifier.send(payment, bad_signature=bad)
        return JSONResponse(attempt.to_json())

    async def notifications(request: Request) -> Response:
        return JSONResponse({"attempts": [a.to_json() for a in notifier.attempts]})

    async def show_calls(request: Request) -> Response:
        return JSONResponse(calls.to_json())

    async def advance(request: Request) -> Response:
        clock.advance(_number(await _json(request), "seconds"))
        engine.expire_due()
        offset = clock.offset.total_seconds()
        return JSONResponse({"now": clock.now().isoformat(), "offset_seconds": offset})

    async def reset(request: Request) -> Response:
        await notifier.reset()
        store.clear()
        faults.clear()
        calls.clear()
        clock.reset()
        return JSONResponse({"reset": True})

    routes: list[tuple[str, Handler, str]] = [
        ("/_sim/faults", add_fault, "POST"),
        ("/_sim/faults", replace_faults, "PUT"),
        ("/_sim/faults", clear_faults, "DELETE"),
        ("/_sim/payments/{payment_request_id}", show_payment, "GET"),
        ("/_sim/payments/{payment_request_id}/complete", complete, "POST"),
        ("/_sim/notify-policy", set_policy, "POST"),
        ("/_sim/notifications/{payment_request_id}/send", send_notification, "POST"),
        ("/_sim/notifications", notifications, "GET"),
        ("/_sim/calls", show_calls, "GET"),
        ("/_sim/clock/advance", advance, "POST"),
        ("/_sim/reset", reset, "POST"),
    ]
    return [Route(path, _handled(handler), methods=[method]) for path, handler, method in routes]
