"""Private keys for certificates: new ones (written 0600 from creation, never over a file) and
existing ones (read, checked: a CA signs RSA >= 2048 and EC P-256/P-384 keys).

* :func:`generate_key` ``("ec256" | "ec384" | "rsa2048" | "rsa3072" | "rsa4096")``;
* :func:`load_key`: a PEM or DER private key file, unencrypted (an encrypted one cannot be used
  unattended: a renewal runs from cron);
* :func:`key_pem`: PKCS#8 PEM, unencrypted; :func:`key_type_of`: ``"ec256"``, ``"rsa1024"`` …;
* :func:`check_key`: refuses what no ACME CA signs (RSA < 2048, other curves, Ed25519);
* :func:`write_new_key`: through :func:`certdoctor.fsutil.write_atomic` with ``exclusive=True``
  (a temp file made 0600 beside the target, fsynced, ``os.link``-ed into place: the file appears
  whole or not at all, and an existing file, even one made meanwhile, is never replaced).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from certdoctor import policy
from certdoctor.errors import UsageError

KEY_TYPES = ("ec256", "ec384", "rsa2048", "rsa3072", "rsa4096")
DEFAULT_KEY_TYPE = "ec256"

_PEM_KEY = re.compile(rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----.*?-----END \1-----", re.S)
_CURVES = {"ec256": "SECP256R1", "ec384": "SECP384R1"}
_CURVE_NAMES = {"secp256r1": "ec256", "secp384r1": "ec384", "secp521r1": "ec521", "secp256k1": "ec256k1"}


def generate_key(key_type: str = DEFAULT_KEY_TYPE) -> Any:
    """A new private key of ``key_type`` (one of :data:`KEY_TYPES`)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if key_type in _CURVES:
        return ec.generate_private_key(getattr(ec, _CURVES[key_type])())
    if key_type in KEY_TYPES:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    raise UsageError(f"key type {key_type!r} is not one of {', '.join(KEY_TYPES)}",
                     f"Choose one of {', '.join(KEY_TYPES)} (default {DEFAULT_KEY_TYPE}).")


def key_type_of(key: Any) -> str:
    """``"ec256"``, ``"ec384"``, ``"rsa2048"`` … (one of :data:`KEY_TYPES` for a key a CA signs);
    other keys by the same pattern (``"rsa1024"``, ``"ec521"``, ``"ed25519"``)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa{key.key_size}"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return _CURVE_NAMES.get(key.curve.name, f"ec-{key.curve.name}")
    name = type(key).__name__.lower()
    for kind in ("ed25519", "ed448", "x25519", "x448", "dsa", "dh"):
        if name.startswith(kind):
            return kind
    return name


def check_key(key: Any, what: str = "key") -> Any:
    """``key`` itself if a CA will sign it (RSA of 2048 bits or more, EC P-256 or P-384), else a
    UsageError saying what to do."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    kind = key_type_of(key)
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < policy.RENEW_RSA_MIN_BITS:
            raise UsageError(f"{what} is an RSA key of {key.key_size} bits: CAs refuse RSA keys under "
                             f"{policy.RENEW_RSA_MIN_BITS} bits",
                             "Leave --key out for a new key (--key-type ec256 or rsa2048 and up).")
        return key
    if kind in _CURVES:
        return key
    raise UsageError(f"{what} is a {kind} key: ACME CAs sign RSA (2048 bits or more) and EC P-256/P-384 keys only",
                     "Leave --key out for a new key (--key-type ec256, ec384 or rsa2048 and up).")


def load_key(path: "str | os.PathLike[str]") -> Any:
    """The private key in ``path`` (PEM or DER, PKCS#8 or traditional, unencrypted).

    A file that cannot be read, is too large, is encrypted or holds no private key is a
    UsageError (error + hint). The key is not judged here (:func:`check_key` does that)."""
    from cryptography.hazmat.primitives import serialization

    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(policy.RENEW_MAX_KEY_BYTES + 1)
    except IsADirectoryError:
        raise UsageError(f"--key {p}: is a directory", "Give the private key file.") from None
    except FileNotFoundError:
        raise UsageError(f"--key {p}: no such file", "Give an existing private key file, or leave --key out "
                         "for a new key (--out-key).") from None
    except OSError as exc:
        raise UsageError(f"--key {p}: cannot read it ({exc.strerror or exc})", "Check the path and its permissions.") from None
    if len(data) > policy.RENEW_MAX_KEY_BYTES:
        raise UsageError(f"--key {p}: larger than {policy.RENEW_MAX_KEY_BYTES} bytes: not a key file",
                         "Give the private key file (PEM or DER).")
    if b"-----BEGIN" in data:  # the key block of a file that also holds certificates (haproxy's .pem)
        m = _PEM_KEY.search(data)
        data = m.group(0) if m else data
    loaders = [serialization.load_pem_private_key] if b"-----BEGIN" in data else []
    loaders.append(serialization.load_der_private_key)
    encrypted = b"ENCRYPTED" in data
    for loader in loaders:
        try:
            return loader(data, password=None)
        except TypeError:  # the key is encrypted and no password was given
            encrypted = True
        except Exception:  # noqa: BLE001 - ValueError, cryptography's UnsupportedAlgorithm
            continue
    if encrypted:
        raise UsageError(f"--key {p}: the key is encrypted (a renewal runs unattended, without a password)",
                         f"Decrypt it to a 0600 file first: openssl pkey -in {p} -out plain.key")
    if b"CERTIFICATE" in data or b"PUBLIC KEY" in data:
        raise UsageError(f"--key {p}: holds a certificate or public key, not a private key",
                         "Give the private key file (e.g. privkey.pem), not the certificate.")
    raise UsageError(f"--key {p}: not a private key (PEM or DER)", "Give the private key file (e.g. privkey.pem).")


def key_pem(key: Any) -> bytes:
    """``key`` as PKCS#8 PEM, unencrypted."""
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def check_new_key_path(path: "str | os.PathLike[str]", what: str = "--out-key") -> Path:
    """Where a new key may be written: not standard output, not an existing file or link, a
    directory that exists or can be made. The checks of :func:`write_new_key`, before any work."""
    from certdoctor.fsutil import check_output, is_stdout

    text = os.fspath(path)
    if is_stdout(text):
        raise UsageError(f"{what} -: a private key is never written to standard output",
                         f"Give a file name for {what} (it is made 0600).")
    check_output(text, what)
    if os.path.lexists(text):
        raise UsageError(f"{what} {text} already exists: a key is never overwritten",
                         f"To reuse that key, give it as --key {text}; for a new key, give a new file name.")
    return Path(text)


def write_new_key(path: "str | os.PathLike[str]", key: Any) -> None:
    """Write ``key`` (PKCS#8 PEM) to the new file ``path``, mode 0600 from creation; an existing
    file (or link) there is never replaced: UsageError. Missing directories are made."""
    from certdoctor.fsutil import write_atomic

    target = check_new_key_path(path)
    try:
        write_atomic(target, key_pem(key), 0o600, exclusive=True, what="--out-key")
    except UsageError as exc:
        if "already exists" in exc.message:  # made meanwhile
            raise UsageError(f"--out-key {target} already exists: a key is never overwritten",
                             f"To reuse that key, give it as --key {target}; for a new key, give a new file name.") from None
        raise


__all__ = ["KEY_TYPES", "DEFAULT_KEY_TYPE", "generate_key", "load_key", "key_pem", "key_type_of", "check_key",
           "check_new_key_path", "write_new_key"]
