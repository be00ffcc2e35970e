"""``mapping.yaml``: Alipay+ result codes and our own errors as Paygate Status/Code/Description.

Loaded and checked once at start-up; a broken file stops the adapter with a clear message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml

from adapter.errors import ConfigError
from adapter.resources import DEFAULT_MAPPING

MAPPING_ENV = "PAYGATE_ADAPTER_MAPPING"  # another mapping.yaml than the packaged one

PaygateStatus = Literal["OK", "FAILED", "AUTHORIZE_REQUEST"]
TERMINAL_TYPES = frozenset({"WEB", "WAP", "APP", "MINI_APP"})
_CODE = re.compile(r"^[0246][0-9A-F]{3}[0-9A-Z]{4}$")
_SEVERITY_FOR_STATUS = {"OK": "0", "FAILED": "24", "AUTHORIZE_REQUEST": "6"}


@dataclass(frozen=True, slots=True)
class PaygateResult:
    status: PaygateStatus
    code: str
    description: str

    @property
    def is_success(self) -> bool:
        return self.code == "00000000"

    @property
    def is_pending(self) -> bool:
        return self.code.startswith("6")


@dataclass(frozen=True)
class ResultCodes:
    """The parsed mapping; see ``mapping.yaml`` for the meaning of each table."""

    error_categories: Mapping[str, str]
    error_parameters: Mapping[str, str]
    adapter_results: Mapping[str, PaygateResult]
    alipay_results: Mapping[str, PaygateResult]
    alipay_fallback: Mapping[str, PaygateResult]
    devices: Mapping[str, str]

    def error_code(self, category: str, parameter: str) -> str:
        prefix = self.error_categories[category]
        return prefix + self.error_parameters.get(parameter, self.error_parameters["Request"])

    def adapter(self, name: str) -> PaygateResult:
        return self.adapter_results[name]

    def alipay(self, result_code: str, result_status: str) -> PaygateResult:
        """The Paygate result for an Alipay+ result; a U status can never map to FAILED."""
        mapped = self.alipay_results.get(result_code)
        if mapped is None or (result_status == "U" and not mapped.is_pending):
            return self.alipay_fallback[result_status]
        return mapped

    def terminal_type(self, device: str) -> str:
        return self.devices[device]


def _result(value: Any, path: str, problems: list[str]) -> PaygateResult | None:
    if not isinstance(value, Mapping):
        problems.append(f"{path}: must be a mapping with status, code, description")
        return None
    status, code, description = value.get("status"), value.get("code"), value.get("description")
    if status not in _SEVERITY_FOR_STATUS:
        problems.append(f"{path}.status: must be OK, FAILED or AUTHORIZE_REQUEST")
        return None
    if not isinstance(code, str) or not _CODE.match(code):
        problems.append(f"{path}.code: must be 8 characters in Paygate's structure")
        return None
    if code[0] not in _SEVERITY_FOR_STATUS[status] and not (
        status == "AUTHORIZE_REQUEST" and code[0] == "6"
    ):
        problems.append(f"{path}.code: first digit {code[0]} does not fit status {status}")
        return None
    if not isinstance(description, str) or not description or set(description) & set("&=+%"):
        problems.append(f"{path}.description: non-empty text without & = + %")
        return None
    return PaygateResult(status, code, description)


def _results(data: Any, path: str, problems: list[str]) -> dict[str, PaygateResult]:
    if not isinstance(data, Mapping):
        problems.append(f"{path}: missing or not a mapping")
        return {}
    results = {}
    for key, value in data.items():
        result = _result(value, f"{path}.{key}", problems)
        if result is not None:
            results[str(key)] = result
    return results


def _digits(data: Any, path: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(data, Mapping):
        problems.append(f"{path}: missing or not a mapping")
        return {}
    table = {}
    for key, value in data.items():
        if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Z]{4}", value):
            problems.append(f"{path}.{key}: must be a 4-character string")
        else:
            table[str(key)] = value
    return table


def parse_mapping(data: Any) -> ResultCodes:
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise ConfigError(["mapping: the file must hold a mapping"])
    errors = data.get("paygate_errors") or {}
    categories = _digits(errors.get("categories"), "paygate_errors.categories", problems)
    parameters = _digits(errors.get("parameters"), "paygate_errors.parameters", problems)
    if "Request" not in parameters:
        problems.append("paygate_errors.parameters.Request: required (the fallback id)")
    fallback = _results(data.get("alipayplus_fallback"), "alipayplus_fallback", problems)
    for status in ("S", "F", "U"):
        if status not in fallback:
            problems.append(f"alipayplus_fallback.{status}: required")
    devices = data.get("devices")
    if not isinstance(devices, Mapping) or not devices:
        problems.append("devices: missing or not a mapping")
        devices = {}
    for device, terminal in devices.items():
        if terminal not in TERMINAL_TYPES:
            problems.append(f"devices.{device}: {terminal!r} is not an Alipay+ terminalType")
    mapping = ResultCodes(
        error_categories=categories,
        error_parameters=parameters,
        adapter_results=_results(data.get("adapter_results"), "adapter_results", problems),
        alipay_results=_results(data.get("alipayplus_results"), "alipayplus_results", problems),
        alipay_fallback=fallback,
        devices={str(k): str(v) for k, v in devices.items()},
    )
    if problems:
        raise ConfigError(problems)
    return mapping


def load_mapping(path: str | Path | None = None) -> ResultCodes:
    file: Traversable = Path(path) if path else DEFAULT_MAPPING
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{file}: not valid YAML: {exc}"]) from None
    return parse_mapping(data)
