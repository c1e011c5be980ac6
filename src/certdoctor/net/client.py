"""Run the real client library (requests, httpx, urllib, pip's stack) against a URL with exactly
the trust certdoctor computed; its outcome is the verdict of a diagnosis.

Verification stays fully on: the context is the client's own (``EffectiveTrust.ssl_context``).
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.model import CLIENTS

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.trust.effective import EffectiveTrust


@dataclass(frozen=True, slots=True)
class ClientOutcome:
    """What the real client did with the effective trust: ``ok`` or the error it raised.

    ``http_date`` is the server's ``Date`` header (``None`` when the request failed or the
    server sent none); ``status`` the HTTP status.
    """

    client: str
    ok: bool
    error: str | None
    error_type: str | None
    status: int | None
    http_date: _dt.datetime | None
    elapsed: float


def run_client(
    client: str,
    url: str,
    trust: "EffectiveTrust",
    *,
    python: str | None = None,
    proxy: str | None = None,
    timeout: float = policy.TIMEOUT_SECONDS,
) -> ClientOutcome:
    """Run the real client library against ``url`` with exactly the effective trust.

    Verification stays fully on: the context is the client's own (``trust.ssl_context``).
    The response body is not read beyond the headers.
    """
    from email.utils import parsedate_to_datetime

    from certdoctor.errors import CertdoctorError

    start = time.monotonic()
    try:
        ctx = trust.ssl_context(python=python)
    except CertdoctorError as exc:  # the client fails while loading its bundle, before connecting
        return ClientOutcome(client, False, exc.message, "OSError", None, None, time.monotonic() - start)
    status = None
    date_header = None
    try:
        if client in ("requests", "pip"):
            import requests
            from requests.adapters import HTTPAdapter

            class _ContextAdapter(HTTPAdapter):
                def init_poolmanager(self, *args, **kwargs):
                    kwargs["ssl_context"] = ctx
                    return super().init_poolmanager(*args, **kwargs)

                def proxy_manager_for(self, *args, **kwargs):
                    kwargs["ssl_context"] = ctx
                    return super().proxy_manager_for(*args, **kwargs)

            with requests.Session() as s:
                # the environment was already folded into `trust`; don't let it apply twice
                s.trust_env = False
                s.mount("https://", _ContextAdapter())
                verify: bool | str = trust.cafile or trust.capath or True
                if verify is True and client == "requests":
                    verify = trust.certifi_path or True
                proxies = {"https": proxy} if proxy else {}
                with s.get(url, verify=verify, timeout=timeout, proxies=proxies,
                           stream=True, allow_redirects=False) as resp:
                    status = resp.status_code
                    date_header = resp.headers.get("Date")
        elif client == "httpx":
            import httpx

            with httpx.Client(verify=ctx, trust_env=False, proxy=proxy, timeout=timeout) as c:
                with c.stream("GET", url) as resp:
                    status = resp.status_code
                    date_header = resp.headers.get("Date")
        elif client == "urllib":
            import urllib.request

            handlers: list = [urllib.request.HTTPSHandler(context=ctx)]
            handlers.append(urllib.request.ProxyHandler({"https": proxy} if proxy else {}))
            opener = urllib.request.build_opener(*handlers)
            with opener.open(url, timeout=timeout) as resp:
                status = resp.status
                date_header = resp.headers.get("Date")
        else:  # pragma: no cover - validated by the caller
            raise UsageError(f"unknown client {client!r}", f"Choose one of {', '.join(CLIENTS)}.")
    except UsageError:
        raise
    except Exception as exc:  # the client's own error is the evidence
        if client == "urllib" and exc.__class__.__name__ == "HTTPError":
            status = getattr(exc, "code", None)
            date_header = exc.headers.get("Date") if getattr(exc, "headers", None) else None
        else:
            return ClientOutcome(client, False, _error_text(exc), type(exc).__name__, None, None,
                                 time.monotonic() - start)
    http_date = None
    if date_header:
        try:
            http_date = parsedate_to_datetime(date_header)
            if http_date.tzinfo is None:
                http_date = http_date.replace(tzinfo=_dt.timezone.utc)
        except (TypeError, ValueError):
            http_date = None
    return ClientOutcome(client, True, None, None, status, http_date, time.monotonic() - start)


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
    return text.replace("builtins.", "")[:2000]


