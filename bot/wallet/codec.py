"""JSON form of the wallet records, as the HTTP contract (docs/wallet-backend.openapi.yaml) has it.

Decimals travel as strings ("0.5"), datetimes as ISO 8601 with offset, enums as their values,
missing values as null (an unlimited approval's allowance is null, never a huge number).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from bot.wallet.errors import WalletUnavailable

R = TypeVar("R")


def to_json(record: Any) -> dict[str, Any]:
    """A record as a JSON-ready dict."""
    return {
        field.name: _encode(getattr(record, field.name)) for field in dataclasses.fields(record)
    }


def from_json(record_type: type[R], data: Any) -> R:
    """A record from its JSON form; ``WalletUnavailable`` if the data does not fit the contract."""
    if not isinstance(data, dict):
        raise WalletUnavailable(f"expected an object for {record_type.__name__}")
    hints = typing.get_type_hints(record_type)
    try:
        values = {
            field.name: _decode(hints[field.name], data[field.name])
            for field in dataclasses.fields(record_type)  # type: ignore[arg-type]
        }
    except (KeyError, ValueError, TypeError, InvalidOperation) as error:
        raise WalletUnavailable(f"malformed {record_type.__name__}") from error
    return record_type(**values)


def _encode(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes have no place in the contract")
        return value.isoformat()
    return value


def _decode(hint: Any, value: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None:
            return None
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint is Decimal:
        if not isinstance(value, str):
            raise TypeError("decimals travel as strings")
        number = Decimal(value)
        if not number.is_finite():
            raise ValueError("not a finite decimal")
        return number
    if hint is datetime:
        if not isinstance(value, str):
            raise TypeError("datetimes travel as ISO 8601 strings")
        if value[-1:] in ("Z", "z"):
            value = value[:-1] + "+00:00"  # fromisoformat accepts "Z" only from Python 3.11
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("datetime without offset")
        return parsed
    if hint is int and isinstance(value, bool):
        raise TypeError("expected int, got bool")
    if hint in (str, int, bool) and not isinstance(value, hint):
        raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
    return value
