"""Keep credentials out of logs, printed text and MLflow params/tags.

A tracking URI like ``http://user:password@host/`` (or an ``s3://KEY:SECRET@bucket`` output) is
needed to connect, but must never be printed, logged or stored. :func:`redact` masks the password
part of every ``scheme://user:password@`` in a string (and ``?token=`` style query values);
:class:`RedactingFilter` applies it to every log record a handler emits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:@/\s]*):(?P<secret>[^@/\s]*)@")
_QUERY = re.compile(
    r"(?P<key>[?&](?:password|passwd|pwd|token|access_token|secret|api_key|apikey|sig|signature)=)"
    r"(?P<value>[^&#\s]+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with the password of every URI userinfo and secret-looking query values masked."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _QUERY.sub(lambda m: f"{m['key']}{MASK}", text)


def redact_value(value: Any) -> Any:
    """Strings redacted; mappings and sequences redacted inside; anything else unchanged."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """A handler filter that redacts a record's message and arguments before they are formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else _safe_arg(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {
                k: redact(v) if isinstance(v, str) else _safe_arg(v) for k, v in record.args.items()
            }
        if record.exc_info and record.exc_info[1] is not None:
            # formatted here, once, and the live exception dropped: every handler prints this text
            record.exc_text = redact(record.exc_text or logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _safe_arg(arg: Any) -> Any:
    """Non-string log arguments (exceptions, paths) are redacted through their text when it has a secret."""
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = str(arg)
    masked = redact(text)
    return masked if masked != text else arg


def install(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (the root logger by default)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


__all__ = ["MASK", "RedactingFilter", "install", "redact", "redact_value"]
