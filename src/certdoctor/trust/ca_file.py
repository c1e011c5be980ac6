"""``--ca-file``: the one rule for the file a user names as the store to trust."""

from __future__ import annotations


def ca_file_certificates(ca_file: str | None) -> tuple | None:
    """The certificates of ``--ca-file`` (``None`` without one); a missing or unreadable file is
    an :class:`~certdoctor.errors.InputError` naming the option."""
    if ca_file is None:
        return None
    from certdoctor.errors import InputError
    from certdoctor.x509.load import load_file

    check_ca_file(ca_file)
    try:
        return tuple(load_file(ca_file))
    except InputError as exc:
        raise InputError(f"--ca-file {exc.message}", exc.hint) from None


def check_ca_file(ca_file: str | None, *, directory: bool = False) -> None:
    """``--ca-file`` must name an existing file, or (``directory``: the commands that hand it to
    a client as ``verify=``, ``diagnose`` and ``fix``) a directory, which the client reads as
    OpenSSL's hashed ``capath`` — what is wrong with either is then a finding, not a refusal (the
    one rule set: :func:`classify`)."""
    if ca_file is None:
        return
    import os

    from certdoctor.errors import InputError
    from certdoctor.net.target import DIRECTORY, FILE
    from certdoctor.net.target import classify as _classify

    try:
        _classify(ca_file, kinds=(DIRECTORY,) if directory and os.path.isdir(ca_file) else (FILE,))
    except InputError as exc:
        raise InputError(f"--ca-file {exc.message}", "Give the path of a PEM bundle.") from None
