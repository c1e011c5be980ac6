"""certdoctor's one exception tree.

    CertdoctorError            message (what, naming the file or host) + hint (what to do)
    ├── InputError             bad input: unreadable file, not a certificate, wrong password
    │   └── PasswordError      PKCS#12 password missing or wrong
    ├── UsageError             a bad combination of options or arguments
    ├── NetworkError           a host could not be reached or a download failed
    │   └── FetchError         an AIA/CRL/OCSP download broke one of its bounds
    ├── PinMismatch            the peer's key matched no pin (raised before any request byte)
    └── FixNotProven           a fix was produced but the real client still fails with it

A server *problem* is never an exception: it is a returned ``Finding``. Exceptions are for
the cases where certdoctor itself cannot do what was asked.

Plain classes (not frozen dataclasses) so that ``add_note()`` keeps working.
"""

from __future__ import annotations


class CertdoctorError(Exception):
    """Base class. ``message`` says what went wrong, ``hint`` what to do about it."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(CertdoctorError):
    """Input that certdoctor cannot use: not a certificate, truncated, too large, unreadable."""


class PasswordError(InputError):
    """A PKCS#12 file needs a password, or the one given is wrong."""


class UsageError(CertdoctorError):
    """Options or arguments that do not fit together."""


class NetworkError(CertdoctorError):
    """A host could not be reached, or answered with something unusable."""

    exit_code = 1


class FetchError(NetworkError):
    """An AIA/CRL/OCSP download broke a bound: size, redirects, time, scheme."""


class PinMismatch(CertdoctorError):
    """The server's public key matched none of the pins. No request byte was sent."""

    exit_code = 1


class FixNotProven(CertdoctorError):
    """certdoctor built an artefact but the real client still fails with it."""

    exit_code = 1


__all__ = [
    "CertdoctorError",
    "InputError",
    "PasswordError",
    "UsageError",
    "NetworkError",
    "FetchError",
    "PinMismatch",
    "FixNotProven",
]
