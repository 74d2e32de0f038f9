"""What may be recorded: credentials removed from URLs, secret-named options redacted, key-like tokens
scrubbed from free text. Every value bound for the manifest (run options, errors, build configs) passes
here, because a manifest is copied, queried and published."""

from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
# names of options / query parameters whose values are secrets (api_key, x-goog-api-key, token, sig, …)
SECRET_NAME = re.compile(
    r"(^|[_.-])(api[_-]?key|key|token|secret|signature|sig|password|passwd|pwd|auth|authorization|credentials?"
    r"|cookies?|access[_-]?key|private[_-]?key)($|[_.-])",
    re.I,
)
# tokens recognisable without context: bearer headers, sk-…/hf_…/AIza… keys, long opaque strings after key=
_TOKENS = [
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_-]{8,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{8,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{16,}"),
    re.compile(r"(?i)((?:api[_-]?key|token|secret|password|sig(?:nature)?)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;]{4,}"),
]
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def redact_url(url: str) -> str:
    """user:password@ dropped (the user kept), secret-named query parameters' values redacted."""
    try:
        p = urlsplit(url)
    except ValueError:
        return scrub_text(url)
    if not p.scheme or not p.netloc:
        return url
    netloc = p.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = (user.split(":", 1)[0] + ":" + REDACTED + "@" if ":" in user else REDACTED + "@") + host
    query = p.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(SECRET_NAME.search(k) for k, _ in pairs):
            # {ytid}-style template fields survive: quote() keeps braces readable
            query = urlencode(
                [(k, REDACTED if SECRET_NAME.search(k) else v) for k, v in pairs], quote_via=quote, safe="{}"
            )
    return urlunsplit((p.scheme, netloc, p.path, query, p.fragment))


def redact_options(options: dict[str, Any]) -> dict[str, Any]:
    """Values of secret-named keys replaced; URL-valued strings stripped of credentials; nested dicts too."""
    out: dict[str, Any] = {}
    for k, v in options.items():
        if SECRET_NAME.search(str(k)) and v not in (None, "", False) and not str(k).endswith("_env"):
            out[k] = REDACTED  # api_key_env names a variable, not a secret
        elif isinstance(v, dict):
            out[k] = redact_options(v)
        elif isinstance(v, str) and "://" in v:
            out[k] = _URL.sub(lambda m: redact_url(m.group(0)), v)
        else:
            out[k] = v
    return out


def scrub_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Known secrets (e.g. the key that was sent) and key-looking tokens replaced; URLs redacted."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, REDACTED)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    for pat in _TOKENS[:-1]:
        text = pat.sub(REDACTED, text)
    return _TOKENS[-1].sub(lambda m: m.group(1) + REDACTED, text)  # `api_key=` kept, its value not


def url_secrets(url: str | None) -> list[str]:
    """The password and secret-named query values inside a URL (to scrub from text that may echo them)."""
    if not url:
        return []
    try:
        p = urlsplit(url)
    except ValueError:
        return []
    out = [p.password] if p.password else []
    return out + [v for k, v in parse_qsl(p.query, keep_blank_values=True) if SECRET_NAME.search(k) and v]
