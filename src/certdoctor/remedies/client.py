"""Fixes: CA bundles and TLS settings for the client code you own, then (below) ``certdoctor fix``.

The client helpers give each HTTPS client the *right* trust: the public roots (certifi by
default) **plus** your private CA, with chain and hostname checking left on. Never verify=False.

    >>> import requests, httpx, certdoctor
    >>> requests.get(url, verify=certdoctor.ca_bundle(extra=["corp-root.pem"]))      # doctest: +SKIP
    >>> httpx.get(url, verify=certdoctor.ssl_context(extra=["corp-root.pem"]))       # doctest: +SKIP
    >>> s = certdoctor.requests_session(extra=["corp-root.pem"])  # immune to REQUESTS_CA_BUNDLE
"""

from __future__ import annotations

# =========================================================================================
# Client helpers: ca_bundle, ssl_context, requests_session.
# Self-contained (everything they need is in this section and in certdoctor.remedies.bundle).
# =========================================================================================

import hashlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pragma: no cover
    import ssl

    import requests

    from certdoctor.remedies.bundle import AddItem, BundleResult


def _as_items(extra: "AddItem | Iterable[AddItem] | None") -> list:
    """``extra`` as a list: one bare path/bytes/certificate is one item, not an iterable."""
    from cryptography import x509

    if extra is None:
        return []
    if isinstance(extra, (str, bytes, bytearray, os.PathLike, x509.Certificate)):
        return [extra]
    return list(extra)


def _checked_bundle(items: list, base: Any, allow_leaf: bool) -> "BundleResult":
    """build_bundle, but an added certificate that was left out is an error or a warning, never silent."""
    from certdoctor.remedies.bundle import BundleWarning, build_bundle
    from certdoctor.errors import InputError

    result = build_bundle(items, base=base, allow_leaf=allow_leaf)
    for d in result.refused():
        if d.reason == "not-ca":
            raise InputError(
                f"{d.source}: {d.subject} is not a CA certificate",
                "Add the CA that issued it; or, to trust exactly this one certificate (a self-signed "
                "server), pass allow_leaf=True.",
            )
        warnings.warn(f"{d.source}: {d.subject} {d.detail}", BundleWarning, stacklevel=3)
    if not result.entries:
        raise InputError("the CA bundle would hold no certificate", "Add a CA certificate, or use base='certifi'.")
    return result


def _input_key(items: list, base: Any, allow_leaf: bool) -> str | None:
    """SHA-256 of everything the bundle is made from (certdoctor version, base file bytes, extras).

    ``None`` when the base is not a file (an OS store read through the ssl module): then the
    caller names the file after the bundle's own content.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from certdoctor import __version__
    from certdoctor.remedies.bundle import _read, certifi_path, system_bundle_path

    h = hashlib.sha256()

    def feed(tag: str, data: bytes) -> None:
        h.update(tag.encode() + b"\0" + len(data).to_bytes(8, "big") + data)

    feed("certdoctor", __version__.encode())
    feed("allow_leaf", b"1" if allow_leaf else b"0")
    if isinstance(base, str) and base in ("certifi", "system", "none"):
        feed("base", base.encode())
        if base == "certifi":
            feed("base-bytes", _read(certifi_path(), "certifi bundle"))
        elif base == "system":
            path = system_bundle_path()
            if path is None:
                return None
            feed("base-bytes", _read(path, "system bundle"))
    else:
        feed("base", b"file")
        feed("base-bytes", _read(base, "base bundle"))
    for item in items:
        if isinstance(item, x509.Certificate):
            feed("cert", item.public_bytes(serialization.Encoding.DER))
        elif isinstance(item, (bytes, bytearray, memoryview)):
            feed("bytes", bytes(item))
        elif isinstance(item, (str, os.PathLike)):
            # the file's name is part of the # Source: comments, so it is part of the key
            feed("file", os.fsencode(Path(item).name) + b"\0" + _read(item, "certificate file"))
        else:
            return None  # build_bundle will refuse it with a clear error
    return h.hexdigest()


def ca_bundle(
    extra: "AddItem | Iterable[AddItem]" = (),
    base: "str | os.PathLike[str]" = "certifi",
    path: "str | os.PathLike[str] | None" = None,
    *,
    allow_leaf: bool = False,
) -> str:
    """The PATH of a PEM bundle holding ``base``'s roots plus ``extra``: pass it as ``verify=``.

    ``extra``: paths (PEM, DER, PKCS#7), PEM/DER bytes or ``x509.Certificate`` objects; one bare
    item is fine. ``base``: ``"certifi"`` (default), ``"system"`` (the OS bundle), ``"none"`` or a
    file. Without ``path`` the bundle lives in certdoctor's cache directory
    (``$CERTDOCTOR_CACHE_DIR``, else ``~/.cache/certdoctor/bundles``) under a name derived from a
    hash of the inputs: the same inputs give the same path, and a certifi upgrade gives a new one.
    That directory is created 0700 and refused (:class:`~certdoctor.errors.UsageError`) when it
    is a symlink, another user's, or writable by group or others; a file already there is used
    only when its bytes are exactly the bundle built now (otherwise it is rewritten).
    Files are written atomically (mode 0644). With ``path`` the bundle is written there (only when
    its content changed).

    An ``extra`` certificate that is not a CA raises :class:`~certdoctor.errors.InputError`
    (``allow_leaf=True`` to trust exactly that certificate); an expired one is left out with a
    :class:`~certdoctor.remedies.bundle.BundleWarning`.

        >>> import requests
        >>> bundle = ca_bundle(extra=["corp-root.pem"])                          # doctest: +SKIP
        >>> requests.get("https://intranet.example", verify=bundle)             # doctest: +SKIP
        >>> os.environ["REQUESTS_CA_BUNDLE"] = bundle  # or for all of requests   # doctest: +SKIP

    ``certifi.where()`` is a path too, never the bundle's bytes: ``certifi.where() + pem`` is a
    TypeError, and appending to certifi's own file is undone by the next upgrade.
    """
    from certdoctor.remedies.bundle import save_bundle

    items = _as_items(extra)
    if path is not None:
        result = _checked_bundle(items, base, allow_leaf)
        target = Path(path)
        if _holds(target, result.pem, follow=True):
            return os.path.abspath(target)
        return os.path.abspath(save_bundle(result, target).path)

    from certdoctor.fsutil import private_dir
    from certdoctor.net.fetch import default_cache_dir

    # the cache is trusted with nothing: the directory must be this user's alone (another local
    # user who made it first would decide what we trust), and a file found there is used only if
    # it holds exactly the bytes built now
    root = default_cache_dir()
    directory = private_dir(root / "bundles", root=root)
    key = _input_key(items, base, allow_leaf)
    result = _checked_bundle(items, base, allow_leaf)
    target = directory / f"ca-bundle-{(key or result.sha256)[:40]}.pem"
    if _holds(target, result.pem):
        return os.path.abspath(target)
    if os.path.islink(target):
        os.unlink(target)  # replaced, never written through
    return os.path.abspath(save_bundle(result, target).path)


def _holds(path: Path, data: bytes, *, follow: bool = False) -> bool:
    """Is ``path`` a regular file (not a link, unless ``follow``) holding exactly ``data``?"""
    import stat

    flags = os.O_RDONLY | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
            return False
        return fh.read(len(data) + 1) == data


def ssl_context(
    extra: "AddItem | Iterable[AddItem]" = (),
    base: "str | os.PathLike[str]" = "certifi",
    *,
    allow_leaf: bool = False,
) -> "ssl.SSLContext":
    """A client ``ssl.SSLContext`` trusting ``base``'s roots plus ``extra``; hostname checks ON.

    Built with ``ssl.create_default_context()`` and ``load_verify_locations(cadata=…)``, so it
    keeps Python's defaults (``CERT_REQUIRED``, ``check_hostname``, TLS ≥ 1.2, and on 3.13 the
    strict X.509 flags) and trusts only what you gave it (the OS store is not mixed in unless
    ``base="system"``). Explicit, so ``SSL_CERT_FILE``/``SSL_CERT_DIR`` cannot change it.

        >>> ctx = ssl_context(extra=["corp-root.pem"])                           # doctest: +SKIP
        >>> httpx.Client(verify=ctx)                        # httpx             # doctest: +SKIP
        >>> aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx))      # doctest: +SKIP
        >>> urllib.request.urlopen(url, context=ctx)        # urllib            # doctest: +SKIP

    requests cannot take a context as ``verify=`` (REQUESTS_VERIFY_NOT_CONTEXT): use
    :func:`requests_session` or :func:`ca_bundle`.
    """
    import ssl

    result = _checked_bundle(_as_items(extra), base, allow_leaf)
    # create_default_context(cadata=…) is create_default_context() + load_verify_locations(cadata=…)
    # *without* load_default_certs(): the context trusts exactly the bundle. DER, not the PEM text:
    # a str cadata must be ASCII, and the bundle's comments name subjects in UTF-8.
    return ssl.create_default_context(cadata=b"".join(e.der for e in result.entries))


_SESSION_CLASS: Any = None


def _session_class() -> type:
    """The Session subclass, made on first use so that importing certdoctor does not import requests."""
    global _SESSION_CLASS
    if _SESSION_CLASS is not None:
        return _SESSION_CLASS
    import requests

    class BundleSession(requests.Session):
        """A ``requests.Session`` whose ``verify`` is not overridden by ``REQUESTS_CA_BUNDLE``.

        Stock requests merges per-request settings with the environment *before* the session's
        own: ``verify=None`` (nothing passed per request) becomes ``$REQUESTS_CA_BUNDLE`` (or
        ``$CURL_CA_BUNDLE``), and that beats ``session.verify`` (psf/requests#3829). Here, when
        the request passes no ``verify``, the session's ``verify`` is used, whatever the
        environment says. Everything else still comes from the environment as usual
        (``trust_env`` stays True): proxies, ``NO_PROXY``, ``.netrc``. A per-request
        ``verify=`` still wins (``verify=True`` meaning requests' default, env included).
        """

        def __init__(self, bundle: str) -> None:
            super().__init__()
            self.verify = bundle
            self.ca_bundle = bundle

        def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: D401
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if verify is None:
                settings["verify"] = self.verify
            return settings

    BundleSession.__qualname__ = "BundleSession"
    BundleSession.__module__ = __name__
    _SESSION_CLASS = BundleSession
    return BundleSession


def requests_session(
    extra: "AddItem | Iterable[AddItem]" = (),
    base: "str | os.PathLike[str]" = "certifi",
    *,
    allow_leaf: bool = False,
) -> "requests.Session":
    """A ``requests.Session`` that verifies with :func:`ca_bundle` ``(extra, base)``, env or not.

    The trap it avoids (ENV_CA_OVERRIDE): with ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` set,
    ``s = requests.Session(); s.verify = "bundle.pem"`` is silently ignored, because requests
    turns a request without ``verify=`` into the env bundle before looking at ``s.verify``.

    Why a Session subclass (overriding ``merge_environment_settings``) and not
    ``trust_env = False``: that would also drop ``HTTPS_PROXY``/``NO_PROXY`` and ``.netrc``,
    which a corporate network usually needs; and not an adapter pinning ``cert_verify``,
    because then a per-request ``verify=`` would be ignored too. Env proxies keep working.

        >>> s = requests_session(extra=["corp-root.pem"])                       # doctest: +SKIP
        >>> s.get("https://intranet.example/api").json()                        # doctest: +SKIP
        >>> s.ca_bundle                                # the bundle's path        # doctest: +SKIP
    """
    bundle = ca_bundle(extra, base, allow_leaf=allow_leaf)
    return _session_class()(bundle)


# =========================================================================================
# End of the client helpers.
# =========================================================================================
