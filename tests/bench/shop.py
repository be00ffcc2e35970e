"""The shop's URLNotify endpoint for the benchmark: answers 200 and counts what arrived.

The adapter posts one URLNotify per final state (a notified payment, a reversal); a shop that
answers keeps that work inside the measured run instead of in the outbox's retry schedule.

Run: ``python -m tests.bench.shop --port 8003``
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.bench.serving import serve_forever


def create_shop() -> Starlette:
    received = [0]

    async def notify(request: Request) -> Response:
        await request.body()
        received[0] += 1
        return PlainTextResponse("OK")

    async def count(request: Request) -> Response:
        return JSONResponse({"received": received[0]})

    return Starlette(routes=[Route("/notify", notify, methods=["POST"]), Route("/received", count)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    serve_forever(create_shop(), parser.parse_args().port)


if __name__ == "__main__":
    main()
