"""AMQP URLs: the same broker, vhost and options, with other credentials."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit


def with_credentials(amqp_url: str, user: str, password: str) -> str:
    """`amqp_url` (host, port, vhost, options) logging in as `user` (an application, say)."""
    parts = urlsplit(amqp_url)
    host = parts.hostname or "localhost"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
