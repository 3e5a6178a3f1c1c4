"""Credentials never reach an output: every log record has them masked when it is made.

The API key and secret come from the environment (TICKDESK_API_KEY, TICKDESK_API_SECRET) and
are handed to ccxt, which logs each request's headers at DEBUG (`X-MBX-APIKEY: <the key>`).
A filter on one logger would miss records that other loggers propagate, and one on a handler
would miss handlers added later (the TUI's, a test's), so `install` wraps the log-record
factory instead: every record, of any logger, bound for any handler, is formatted (message
with its args, exception and stack text) and masked as it is created. Messages the command
line prints itself go through `redact` too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

CREDENTIAL_VARS = ("TICKDESK_API_KEY", "TICKDESK_API_SECRET")
MASK = "<redacted>"

_secrets: tuple[str, ...] = ()  # longest first, so a secret containing another is masked whole
_installed = False


def redact(text: str) -> str:
    """`text` with every installed credential value replaced by MASK."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def install(env: Mapping[str, str] | None = None) -> bool:
    """Mask the credential values found in `env` (default: the process environment) in every
    log record from now on. Returns whether there was anything to mask. Safe to call again
    (the values are re-read; the factory is wrapped once)."""
    global _secrets, _installed
    env = os.environ if env is None else env
    _secrets = tuple(sorted({v for v in (env.get(k, "") for k in CREDENTIAL_VARS) if v}, key=len, reverse=True))
    if _secrets and not _installed:
        make_record = logging.getLogRecordFactory()

        def masked_record(*args, **kwargs) -> logging.LogRecord:
            return _mask(make_record(*args, **kwargs))

        logging.setLogRecordFactory(masked_record)
        _installed = True
    return bool(_secrets)


def _mask(record: logging.LogRecord) -> logging.LogRecord:
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # args that do not fit the format: keep both, masked, for the handler to show
        message = f"{record.msg} {record.args}"
    record.msg, record.args = redact(message), ()
    if record.exc_info:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None  # formatters print exc_text; nothing can format the raw exception again
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record
