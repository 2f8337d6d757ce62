"""URLs as they may be stored or shown: credentials stripped.

A server URL can carry credentials (`http://user:pass@host/v1`, `...?api_key=...`). The backend keeps
the URL it was given to connect; everything that is written down (globmed.json, the `base_url`
column, manifests, error messages, logs) gets `public_url` / `redact_urls` first.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
# Query parameters that carry credentials (case-insensitive, "-" and "_" alike).
_SECRET_PARAM = re.compile(r"^(api[-_]?key|apikey|key|token|access[-_]?token|auth|authorization|password|passwd|"
                           r"secret|client[-_]?secret|sig|signature|x-amz-signature|x-amz-credential|"
                           r"x-amz-security-token)$", re.I)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@?#]*@")
_QUERY_SECRET = re.compile(r"(?P<name>[?&](?:api[-_]?key|apikey|key|token|access[-_]?token|auth|password|passwd|secret|"
                           r"client[-_]?secret|sig|signature)=)[^&#\s\"']+", re.I)


def public_url(url: str | None) -> str | None:
    """`url` without user:password@ and with the values of credential query parameters replaced."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # not parseable as a URL: redact what looks like credentials in the text
        return redact_urls(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    secret_query = any(_SECRET_PARAM.match(k) for k, _ in pairs)
    if "@" not in parts.netloc and not secret_query:
        return url  # nothing to strip: the URL stays byte-identical (it is part of the request keys)
    query = urlencode([(k, REDACTED if _SECRET_PARAM.match(k) else v) for k, v in pairs]) if secret_query else parts.query
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, query, parts.fragment))


def redact_urls(text: str) -> str:
    """Every URL inside free text (an error message, a log line) without its credentials."""
    text = _USERINFO.sub(lambda m: m.group("scheme"), text)
    return _QUERY_SECRET.sub(lambda m: m.group("name") + REDACTED, text)


def hf_token_allowed(url: str | None) -> bool:
    """Whether a Hugging Face token may be sent to `url`: https only, to huggingface.co or one of its
    subdomains, or to an Inference Endpoint (https://<name>.<region>.<vendor>.endpoints.huggingface.cloud).
    Never to a look-alike (`evilhuggingface.co`), a user Space (*.hf.space), another port or plain http."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme.lower() != "https" or port not in (None, 443) or "@" in parts.netloc:
        return False
    return host == "huggingface.co" or host.endswith((".huggingface.co", ".endpoints.huggingface.cloud"))
