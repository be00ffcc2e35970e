"""The load generator's script sends every prepared request as written, and its output is read
right (figures, sent count, errors)."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.bench.wrk import LUA, parse_output, read_samples, run_wrk, write_requests
from tests.support.servers import serve

OUTPUT = """Running 2s test @ http://127.0.0.1:8000/inquire.aspx
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.52ms    1.20ms   1.02s    90.12%
    Req/Sec     2.30k   150.00     2.50k    80.00%
  Latency Distribution
     50%  812.00us
     75%    3.80ms
     90%    4.50ms
     99%    1.02s
  4590 requests in 2.01s, 1.20MB read
  Socket errors: connect 0, read 0, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:   2287.30
Transfer/sec:    600.00KB
bench-sent 4598
"""


def test_output_gives_rate_percentiles_sent_and_errors() -> None:
    load = parse_output(OUTPUT, prepared=4000)
    assert (load.requests, load.seconds, load.rps) == (4590, 2.01, 2287.30)
    assert (load.p50_ms, load.p99_ms) == (0.812, 1020.0)
    assert load.sent == 4598
    assert load.wrapped
    assert load.errors == (
        "Socket errors: connect 0, read 0, write 0, timeout 2; Non-2xx or 3xx responses: 3"
    )


def test_script_sends_prepared_requests_in_order_with_their_headers(tmp_path: Path) -> None:
    received: list[tuple[str, str]] = []

    async def echo(request: Request) -> Response:
        body = (await request.body()).decode()
        received.append((body, request.headers.get("x-tag", "")))
        return PlainTextResponse(f"got {body}", headers={"signature": "sig"})

    prepared = [(f"n={n}", [("x-tag", f"t{n}")]) for n in range(5)]
    requests_file, samples_file, script = (tmp_path / name for name in ("r", "s", "b.lua"))
    script.write_text(LUA)
    written = write_requests(requests_file, prepared)
    with serve(Starlette(routes=[Route("/echo", echo, methods=["POST"])])) as url:
        load = run_wrk(
            script,
            f"{url}/echo",
            requests_file,
            samples_file,
            prepared=written,
            seconds=1,
            connections=1,
            sample_every=1,
        )
    expected = [(f"n={n}", f"t{n}") for n in range(5)]
    # wrk asks the script for one request before it starts sending: the cycle starts at n=1.
    first = expected.index(received[0])
    assert received[:10] == [expected[(first + k) % 5] for k in range(10)]
    assert load.requests <= load.sent
    samples = read_samples(samples_file)
    assert [(s.status, s.body, s.signature) for s in samples[:2]] == [
        (200, f"got {received[0][0]}", "sig"),
        (200, f"got {received[1][0]}", "sig"),
    ]
