"""Where a library lives: a SQLite path or a PostgreSQL URL, and the URL as it may be shown.

A PostgreSQL URL (``postgresql://user@host:5432/db``) may carry a password, either in the
user part or as ``password=`` in the query; neither may reach a report, a log line, the audit
log or the screen. :func:`redact_url` is what every place that shows the location uses.
Better: leave the password out of the URL and let libpq find it in a password file
(``?passfile=/path/to/pgpass``, or ``~/.pgpass``) or in ``PGPASSWORD`` / the other ``PG*``
environment variables.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

URL_SCHEMES = ("postgresql://", "postgres://")
SECRET_PARAMS = ("password", "sslpassword")
"""Query parameters that hold secrets (libpq connection parameters)."""
REDACTED = "***"


def is_url(location: object) -> bool:
    """True for a PostgreSQL URL, False for a file path (or None)."""
    return isinstance(location, str) and location.strip().lower().startswith(URL_SCHEMES)


def redact_url(url: str) -> str:
    """The URL without its password (user part and ``password=`` query), safe to show or log."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + REDACTED
        netloc = f"{userinfo}@{host}"
    query = urlencode([(k, REDACTED if k.lower() in SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="/*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, url: str) -> str:
    """``text`` (an error message) with every secret of ``url`` replaced."""
    parts = urlsplit(url.strip())
    secrets = []
    if "@" in parts.netloc and ":" in parts.netloc.rsplit("@", 1)[0]:
        secrets.append(parts.netloc.rsplit("@", 1)[0].split(":", 1)[1])
    secrets += [v for k, v in parse_qsl(parts.query) if k.lower() in SECRET_PARAMS]
    text = text.replace(url, redact_url(url))
    for s in filter(None, secrets):
        text = text.replace(s, REDACTED)
    return re.sub(r"(password\s*=\s*)\S+", r"\1" + REDACTED, text, flags=re.IGNORECASE)
