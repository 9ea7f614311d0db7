"""Secrets never reach a screen, a journal or a log: the two tools every writer of text uses.

- `redact_text` / `redact_url` hide the credentials of any URL (`redis://:pw@host` -> `redis://***@host`,
  and the token-bearing path and query of a webhook URL with `keep_path=False`).
- `scrub` replaces a known secret value in text by `***`, in its exact form, wrapped across lines or
  spaces (a provider that folds a long key in its error body), base64-encoded and URL-encoded. It runs on
  the raw text, before anything normalises whitespace.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, quote_plus, urlsplit

_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@'\"]*@")
MASK = "***"


def redact_text(text: str) -> str:
    """Every `scheme://user:password@` in `text` becomes `scheme://***@`."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def redact_url(url: str, *, keep_path: bool = True) -> str:
    """A URL fit to print: credentials hidden; with keep_path=False only scheme://host[:port]/… is kept
    (a webhook's path and query are often its token)."""
    url = redact_text(url)
    if keep_path:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}/…" if parts.scheme else MASK


def _forms(secret: str) -> list[str]:
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    for enc in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = enc.decode()
        forms.add(text)
        forms.add(text.rstrip("="))
    return sorted((f for f in forms if f), key=len, reverse=True)


def scrub(text: str, *secrets: str | None) -> str:
    """`text` with every form of every secret (4 characters or more) replaced by ***."""
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        for form in _forms(secret):
            # whitespace (a line fold) may sit between any two characters of the secret
            pattern = r"\s*".join(re.escape(c) for c in form)
            text = re.sub(pattern, MASK, text)
    return text
