"""Structured logs: one event per hop, JSON lines (or a readable console form for the demo).

Every line, the adapter's own and those of uvicorn, Alembic and httpx, goes through the same
processors: the request id and the correlation keys bound for the request (``merchant_id``,
``trans_id``, ``pay_id``, ``payment_request_id``), a timestamp, the level, and a redaction step
that masks anything secret by its name (keys, MACs, Data, passwords, cookies). Nothing logs key
material on purpose (keys are :class:`adapter.secret.Secret`); redaction is the second line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from adapter.model import Event

LOG_FORMAT_ENV = "PAYGATE_LOG_FORMAT"  # for worker processes, which have no command line
LOG_LEVEL_ENV = "PAYGATE_LOG_LEVEL"

# Field names whose values never reach a log line, in any letter case.
_SECRET_NAMES = re.compile(
    r"(key|secret|token|password|passwd|mac|signature|authorization|cookie|csrf|"
    r"^data$|^len$|ccnr|cccvc|ccexpiry|cvv|cvc|pan$|card)",
    re.IGNORECASE,
)
MASK = "***"

HOP_LOGGER = "adapter.hop"
# Replaced by a logger bound to the configuration when logging is configured: the lazy proxy
# builds a bound logger on every line.
hop_log: Any = structlog.get_logger(HOP_LOGGER)
# The level check for routine hops: the standard library caches it, where asking the (uncached)
# structlog logger builds a logger on every inquiry. configure_logging sets both levels alike.
_hop_level = logging.getLogger(HOP_LOGGER)


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Mask every value whose key names something secret (nested mappings too)."""
    _redact(event_dict)
    return event_dict


# Every line passes the same few keys: a dict lookup, not a regex search per key and line.
_secret_by_name: dict[str, bool] = {}
_MAX_NAMES_KEPT = 4096


def _names_a_secret(key: str) -> bool:
    secret = key != "event" and _SECRET_NAMES.search(key) is not None
    if len(_secret_by_name) < _MAX_NAMES_KEPT:
        _secret_by_name[key] = secret
    return secret


# Values that cannot hold a mapping: most of a line's, and no ABC check for them.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _redact(values: MutableMapping[str, Any]) -> None:
    # Values are replaced, never keys added or removed: the mapping can be walked as it is.
    known = _secret_by_name
    for key, value in values.items():
        secret = known.get(key)
        if secret is None:
            secret = _names_a_secret(key)
        if secret:
            values[key] = MASK
        elif type(value) not in _SCALARS and isinstance(value, Mapping):
            values[key] = copy = dict(value)
            _redact(copy)


def _shared_processors() -> list[Processor]:
    return [
        merge_correlation,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]


class _HandlerStream:
    """Where structlog writes its rendered lines: the standard library handler's stream,
    under that handler's lock, so every line of both kinds arrives whole and in order.

    A hop line is not made a ``LogRecord``: the record, its handling and structlog's
    formatter hand-over cost more than the rest of the line (docs/performance.md#known-traps).
    """

    def __init__(self, handler: logging.StreamHandler[TextIO], name: str) -> None:
        self._handler = handler
        self.name = name  # the logger's name on each line

    def msg(self, message: str) -> None:
        handler = self._handler
        with handler.lock or contextlib.nullcontext():
            handler.stream.write(message + "\n")
            handler.stream.flush()

    debug = info = warning = error = critical = exception = msg


def _json_line(event_dict: EventDict, default: Callable[[Any], Any]) -> str:
    # orjson: a tenth of the standard library's time for a line (docs/performance.md).
    try:
        return orjson.dumps(event_dict, default=default).decode()
    except TypeError:
        # What orjson refuses and the standard library writes (an integer beyond 64 bits).
        return json.dumps(event_dict, default=default, ensure_ascii=False)


def _json_hop_line(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str | bytes:
    """A hop's JSON line: the shared processors and the JSON renderer in one call, the same
    keys in the same order. Three hops go with a notify, each ran six processors, and their
    calls and the time stamper's were a third of a line's cost
    (docs/performance.md#known-traps)."""
    merge_correlation(logger, method_name, event_dict)
    event_dict["level"] = method_name  # info or debug: add_log_level maps only others
    event_dict["logger"] = HOP_LOGGER
    event_dict["timestamp"] = datetime.now(tz=UTC).isoformat().replace("+00:00", "Z")
    _redact(event_dict)
    return _render_json(logger, method_name, event_dict)


_render_json = structlog.processors.JSONRenderer(serializer=_json_line)


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    """Route structlog and the standard library's logging to one JSON (or console) output."""
    renderer: Processor = (
        _render_json if log_format != "console" else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_shared_processors(),
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.format_exc_info, renderer],
        # A line below the level is dropped before any processor runs (inquire's hops are
        # DEBUG: with the default level they cost nothing).
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=lambda name="", *_: _HandlerStream(handler, name),
        # Not cached: a logger made before this call would keep writing where logging was
        # configured first.
        cache_logger_on_first_use=False,
    )
    global hop_log
    hop_log = (
        structlog.wrap_logger(
            _HandlerStream(handler, HOP_LOGGER),
            processors=[_json_hop_line],
            wrapper_class=structlog.make_filtering_bound_logger(
                logging.getLevelName(level.upper())
            ),
        )
        if log_format != "console"
        else structlog.get_logger(HOP_LOGGER)
    ).bind()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per upstream request is noise next to our own hop lines, and costs time.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


# Every correlation key in one context variable, replaced whole: structlog's own contextvars
# cost a variable, a token and a reset per key, on every request.
_correlation: ContextVar[Mapping[str, str]] = ContextVar(
    "paygate_correlation", default=MappingProxyType({})
)


def bind_correlation(**keys: str | None) -> None:
    """Bind correlation keys for the rest of this request's (task's) log lines."""
    _correlation.set({**_correlation.get(), **{k: v for k, v in keys.items() if v}})


class Correlated:
    """Correlation keys bound for one block (a request, a delivery), unbound when it ends."""

    __slots__ = ("_keys", "_token")

    def __init__(self, **keys: str) -> None:
        self._keys = keys

    def __enter__(self) -> None:
        self._token = _correlation.set({**_correlation.get(), **self._keys})

    def __exit__(self, *exc_info: object) -> None:
        _correlation.reset(self._token)


def merge_correlation(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The processor: the keys bound where the line is written; the line's own keys win."""
    for key, value in _correlation.get().items():
        event_dict.setdefault(key, value)
    return event_dict


def log_hop(event: Event) -> None:
    """The journal observer: one log line per hop, with what the journal row holds."""
    if event.routine and not _hop_level.isEnabledFor(logging.DEBUG):
        return
    fields: dict[str, object] = {
        "name": event.name,
        "outcome": event.outcome,
        "pay_id": event.pay_id,
        "merchant_id": event.merchant_id,
        "actor": event.actor,
        **event.detail,
    }
    # What the event does not know is left to the keys bound for the request.
    write = hop_log.debug if event.routine else hop_log.info
    write(event.hop.value, **{k: v for k, v in fields.items() if v is not None})
