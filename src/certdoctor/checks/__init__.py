"""The checks of a diagnosis: pure functions of what was gathered, and a clock.

No module here opens a socket or reads a file (none imports :mod:`certdoctor.net`).
``revocation``: the CRL/OCSP verification of answers already downloaded.
"""
