"""Words the checks share: a certificate's role in its path, how it is named, the store's label."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certdoctor.model import is_ip  # noqa: F401 (the checks' name for it)

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.model import CertInfo
    from certdoctor.trust.effective import EffectiveTrust


def role_of(index: int, total: int, info: "CertInfo") -> str:
    if index == 0:
        return "the leaf"
    if info.self_signed:
        return "the root"
    return "the intermediate" if total <= 3 else f"intermediate #{index}"


def who(info: "CertInfo") -> str:
    return f"{info.display_name!r} (serial {info.serial}, SHA-256 {info.fingerprint_sha256[:23]}…)"


def trust_label(trust: "EffectiveTrust") -> str:
    where = trust.cafile or trust.capath or ("the OS store" if trust.uses_os_store else "?")
    return f"{where} ({trust.source})"
