"""Keys, CSRs and ACME renewal with ARI that never loses a working certificate (issue 12).

* :mod:`certdoctor.renew.keys` — new keys (0600, never over a file) and existing ones;
* :mod:`certdoctor.renew.csr` — :func:`make_csr`: every name in subjectAltName;
* :mod:`certdoctor.renew.schedule` — :func:`should_renew`: ARI (RFC 9773) first, else the lifetime rule;
* :mod:`certdoctor.renew.install` — files written beside the old, swapped, the previous kept;
* :mod:`certdoctor.renew.acme` — the ACME (RFC 8555) session on certbot's ``acme`` library;
* :mod:`certdoctor.renew.challenge` — http-01 (own server or webroot) and dns-01 (hook);
* :mod:`certdoctor.renew.config`, :mod:`certdoctor.renew.record`, :mod:`certdoctor.renew.deploy`,
  :mod:`certdoctor.renew.run` — the ``renew`` command's configuration, attempt record and lock,
  deploy-and-prove step and the one call the CLI makes.
"""

from certdoctor.renew.csr import CsrResult, make_csr  # noqa: E402  (issue 12: certdoctor.renew.make_csr)

__all__ = ["CsrResult", "make_csr"]
