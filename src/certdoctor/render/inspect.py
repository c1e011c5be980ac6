"""Renderers for certificates and chains: JSON-ready dicts and rich text. None of them fetch.

    >>> from certdoctor.model import ChainInfo
    >>> from certdoctor.render.inspect import Inspection, inspection_json, render_inspection
    >>> insp = Inspection.of(certs, kind="file", name="chain.pem", format="pem")  # doctest: +SKIP
    >>> inspection_json(insp)["chain"]["in_order"]                                 # doctest: +SKIP
    True
    >>> render_inspection(insp, console)                                           # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from certdoctor import policy
from certdoctor.inspect import AnchorCheck, ChainShape, Inspection, KeyInfo, key_info  # noqa: F401 (re-exported)
from certdoctor.model import CertInfo, ChainInfo, to_jsonable
from certdoctor.render.text import safe  # every field below is the certificate's (or the user's) text

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

#: days left under which a validity is shown as a warning
SOON_DAYS = policy.EXPIRING_SOON_DAYS


# --------------------------------------------------------------------------- roles and words

def roles(chain: ChainInfo) -> tuple[str, ...]:
    from certdoctor.x509.convert import cert_roles

    return cert_roles(chain)


def issuer_index(chain: ChainInfo) -> dict[int, int]:
    """child index -> index of the certificate that signed it (first one found)."""
    out: dict[int, int] = {}
    for link in chain.links:
        out.setdefault(link.child, link.parent)
    return out


def validity_words(info: CertInfo) -> str:
    """``expires in 89 days``, ``EXPIRED 3 days ago``, ``NOT YET VALID (starts in 2 days)``."""
    if info.expired:
        ago = max(0, -info.days_left - 1)  # days_left is floored: -1 means "less than a day ago"
        return "EXPIRED less than a day ago" if ago == 0 else f"EXPIRED {ago} day{'s' if ago != 1 else ''} ago"
    if info.not_yet_valid:
        now = _dt.datetime.now(_dt.timezone.utc)
        days = max(0, int((info.not_before - now).total_seconds() // 86400))
        return f"NOT YET VALID (starts in {days} day{'s' if days != 1 else ''})"
    d = info.days_left
    return f"expires in {d} day{'s' if d != 1 else ''}"


def validity_style(info: CertInfo) -> str:
    if info.expired or info.not_yet_valid:
        return "bold red"
    if info.days_left < SOON_DAYS:
        return "yellow"
    return "green"


def key_words(info: CertInfo) -> str:
    return safe(f"{info.key_type} {info.key_size} bits" if info.key_size and not info.key_type.startswith("EC")
                else info.key_type)


# --------------------------------------------------------------------------- JSON

def cert_json(info: CertInfo, *, index: int | None = None, role: str | None = None,
              issued_by: int | None = None, on_path: bool | None = None) -> dict[str, Any]:
    """One certificate as a JSON-ready dict: every :class:`CertInfo` field plus index, role,
    ``issued_by`` (index of the signer in the same list, or null), ``pin_sha256`` and ``pem``."""
    import base64

    doc: dict[str, Any] = {}
    if index is not None:
        doc["index"] = index
    if role is not None:
        doc["role"] = role
    doc.update(to_jsonable(info))
    doc["pin_sha256"] = f"sha256/{info.spki_pin}"
    doc["issued_by"] = issued_by
    if on_path is not None:
        doc["on_path"] = on_path
    if info.der:
        b64 = base64.b64encode(info.der).decode("ascii")
        doc["pem"] = ("-----BEGIN CERTIFICATE-----\n"
                      + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
                      + "\n-----END CERTIFICATE-----\n")
    return doc


def chain_json(chain: ChainInfo, shape: ChainShape | None = None) -> dict[str, Any]:
    """The chain's shape: who signed whom, the leaf's path, order, off-path certificates, root."""
    shape = shape or ChainShape.of(chain, leaf=0)
    return {
        "count": len(chain.certs),
        "links": [{"child": link.child, "parent": link.parent} for link in chain.links],
        "leaf": shape.leaf,
        "path": list(shape.path),
        "off_path": list(shape.off_path),
        "in_order": shape.in_order,
        "root_included": shape.root_included,
        "complete": shape.complete,
        "suggested_order": list(shape.suggested_order),
        "bundle": shape.bundle,
    }


def certificates_json(chain: ChainInfo, shape: ChainShape | None = None) -> list[dict[str, Any]]:
    shape = shape or ChainShape.of(chain, leaf=0)
    rs = roles(chain)
    parents = issuer_index(chain)
    return [cert_json(c, index=i, role=rs[i], issued_by=parents.get(i), on_path=i in shape.path)
            for i, c in enumerate(chain.certs)]


def inspection_json(insp: Inspection, target: dict[str, Any] | None = None) -> dict[str, Any]:
    """``certdoctor inspect --json``: the envelope (:mod:`certdoctor.render.json`) with the
    certificates, plus ``source`` (kept from schema 1), ``hostname_match``, ``chain`` (its shape),
    ``private_key``, ``notes`` and ``anchor``. ``target`` defaults to one made from ``insp``."""
    from certdoctor.render.json import envelope, make_target

    if target is None:
        if insp.kind == "host":
            netloc = f"[{insp.host}]" if ":" in (insp.host or "") else insp.host
            url = f"https://{netloc}{'' if insp.port == 443 else f':{insp.port}'}/"
            target = make_target(insp.name, "endpoint", host=insp.host or "", port=insp.port or 443,
                                 servername=insp.servername or insp.host or "", url=url)
        elif insp.name == "<stdin>":
            target = make_target("-", "stdin")
        else:
            target = make_target(insp.name, "file", path=insp.name)
    return envelope(
        "inspect", target=target, exit_code=0,
        certificates=certificates_json(insp.chain, insp.shape),
        source={
            "kind": insp.kind,
            "name": insp.name,
            "format": insp.format,
            "host": insp.host,
            "port": insp.port,
            "servername": insp.servername,
        },
        hostname_match=insp.hostname_match,
        chain=chain_json(insp.chain, insp.shape),
        private_key=to_jsonable(insp.private_key) if insp.private_key else None,
        notes=list(insp.notes),
        anchor=insp.anchor,
    )


# --------------------------------------------------------------------------- text

def _date(value: _dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def cert_table(info: CertInfo, *, role: str | None = None, issued_by: int | None = None):
    """A two-column rich table of every field a person checks."""
    from rich.table import Table
    from rich.text import Text

    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold cyan", no_wrap=True)
    t.add_column(overflow="fold")

    def row(label: str, value: Any) -> None:
        if value is None or value == "" or value == ():
            return
        t.add_row(label, value if isinstance(value, Text) else Text(safe(value)))

    row("Subject", info.subject or "(empty)")
    row("Issuer", info.issuer or "(empty)")
    others = [e for e in info.san or () if not e.startswith(("DNS:", "IP Address:"))]
    if "subjectAltName" in info.unparsed_extensions:
        row("SANs", Text("present, but could not be parsed (hostname checks will fail)", style="yellow"))
    elif info.san_dns or info.san_ip:
        row("SANs", ", ".join([*info.san_dns, *info.san_ip, *others]))
    elif others:
        row("SANs", Text(safe(", ".join(others)) + " (no DNS name or IP address: hostname checks will fail)",
                         style="yellow"))
    elif not info.is_ca:
        row("SANs", Text("none (hostname checks will fail)", style="yellow"))
    row("Serial", info.serial)
    row("Valid from", _date(info.not_before))
    until = Text(_date(info.not_after) + "  ")
    until.append(validity_words(info), style=validity_style(info))
    row("Valid until", until)
    row("Key", key_words(info))
    row("Signature", info.signature_algorithm)
    if info.is_ca is None and "basicConstraints" in info.unparsed_extensions:
        ca = "present, but could not be parsed"
    elif info.is_ca is None:
        ca = "no basicConstraints"
    else:
        ca = "CA" if info.is_ca else "not a CA"
        if info.is_ca:
            ca += f", path length {info.path_length if info.path_length is not None else 'unlimited'}"
        if info.basic_constraints_critical:
            ca += " (critical)"
    row("Basic constraints", ca)
    if info.key_usage is not None:
        row("Key usage", ", ".join(info.key_usage) or "(empty)")
    if info.extended_key_usage is not None:
        row("Extended key usage", ", ".join(info.extended_key_usage) or "(empty)")
    row("Subject key id", info.ski)
    row("Authority key id", info.aki)
    row("OCSP", ", ".join(info.ocsp_urls))
    row("CA issuers", ", ".join(info.ca_issuers_urls))
    row("CRL", ", ".join(info.crl_urls))
    if info.unparsed_extensions:
        row("Unparsed", Text(safe(", ".join(info.unparsed_extensions)) + " (present, but could not be parsed)",
                             style="yellow"))
    if info.self_signed:
        row("Self-signed", "yes")
    elif info.self_issued:
        row("Self-issued", "yes (issuer = subject, but its own key did not sign it)")
    row("SHA-256", info.fingerprint_sha256)
    row("SPKI pin", f"sha256/{info.spki_pin}")
    return t


def _cert_label(i: int, info: CertInfo, role: str):
    from rich.text import Text

    label = Text(f"[{i}] ", style="bold")
    label.append(f"{role} ", style="magenta")
    label.append(safe(info.display_name), style="bold")
    label.append("  ")
    label.append(validity_words(info), style=validity_style(info))
    return label


def chain_tree(chain: ChainInfo, title: str = "Chain", shape: ChainShape | None = None):
    """Who signed whom, root at the top (like a browser's certificate viewer)."""
    shape = shape or ChainShape.of(chain, leaf=0)
    from rich.text import Text
    from rich.tree import Tree

    rs = roles(chain)
    parents = issuer_index(chain)
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    tree = Tree(Text(title, style="bold"))
    shown: set[int] = set()
    off_path = set(shape.off_path)

    def add(node, i: int) -> None:
        shown.add(i)
        info = chain.certs[i]
        label = _cert_label(i, info, rs[i])
        if i not in parents and not info.self_signed:
            label.append(f"  issued by {safe(_short(info.issuer))} (not in this list)", style="dim")
        if i in off_path and not shape.bundle:
            label.append("  (not on the leaf's path)", style="yellow")
        branch = node.add(label)
        for c in children.get(i, ()):
            if c not in shown:
                add(branch, c)

    tops = [i for i in range(len(chain.certs)) if i not in parents]
    for i in tops:
        add(tree, i)
    for i in range(len(chain.certs)):  # signing cycles (cross-signed pairs) have no top
        if i not in shown:
            add(tree, i)
    return tree


def _short(name: str) -> str:
    for part in name.split(","):
        if part.startswith("CN="):
            return part[3:]
    return name or "(empty)"


def render_chain(chain: ChainInfo, console: "Console", *, title: str = "Chain",
                 shape: ChainShape | None = None) -> None:
    """The issuance tree, then order / root / off-path lines."""
    from rich.text import Text

    shape = shape or ChainShape.of(chain, leaf=0)
    console.print(chain_tree(chain, title, shape))
    if not chain.certs:
        return
    if shape.bundle:
        rs = roles(chain)
        console.print(f"  a CA bundle: {rs.count('root')} root(s), {rs.count('intermediate')} intermediate(s), "
                      "no leaf")
        return
    if shape.in_order:
        console.print(Text.assemble("  order:  ", ("leaf → root", "green")))
    elif shape.path == tuple(range(len(shape.path))) and shape.suggested_order == tuple(range(len(chain.certs))):
        console.print(Text.assemble("  order:  ", ("leaf → root", "green"),
                                    (", then certificates that are not on that path", "yellow")))
    else:
        order = " ".join(str(i) for i in shape.suggested_order)
        console.print(Text.assemble("  order:  ", (f"not leaf → root: leaf → root would be [{order}]", "yellow")))
    if shape.off_path:
        names = ", ".join(f"[{i}] {safe(chain.certs[i].display_name)}" for i in shape.off_path)
        console.print(Text.assemble("  ", ("not on the leaf's path:", "yellow"), " ", names))
    if shape.root_included:
        console.print("  root:   a self-signed root is included (clients ignore it; it can be left out)")
    elif not shape.complete:
        console.print("  root:   not included (normal for a server: clients have it in their store)")


def render_cert(info: CertInfo, console: "Console", *, index: int, role: str, issued_by: int | None = None,
                on_path: bool = True) -> None:
    from rich.panel import Panel
    from rich.text import Text

    title = Text(f"[{index}] {safe(role)}: ", style="bold")
    title.append(safe(info.display_name))
    words = None
    if issued_by is not None:
        words = f"signed by [{issued_by}]"
    elif info.self_signed:
        words = "self-signed"
    if not on_path:
        words = (words + " · " if words else "") + "not on the leaf's path"
    subtitle = Text(words) if words else None
    border = "red" if (info.expired or info.not_yet_valid) else ("yellow" if info.days_left < SOON_DAYS else "blue")
    console.print(Panel(cert_table(info, role=role, issued_by=issued_by), title=title, subtitle=subtitle,
                        title_align="left", subtitle_align="right", border_style=border, expand=False))


def render_inspection(insp: Inspection, console: "Console") -> None:
    """Header, chain tree, then one panel per certificate."""
    from rich.text import Text

    chain = insp.chain
    n = len(chain.certs)
    head = Text()
    if insp.kind == "host":
        head.append(safe(f"{insp.host}:{insp.port}"), style="bold")
        if insp.servername and insp.servername != insp.host:
            head.append(f" (servername {safe(insp.servername)})")
        head.append(f": the server presents {n} certificate{'s' if n != 1 else ''}")
    else:
        head.append(safe(insp.name), style="bold")
        head.append(f": {safe(_FORMAT_WORDS.get(insp.format, insp.format))}, {n} certificate{'s' if n != 1 else ''}")
    console.print(head, soft_wrap=True)
    if insp.hostname_match is not None:
        name = safe(insp.servername or insp.host)
        if insp.hostname_match:
            console.print(Text.assemble("  name:   ", (f"the leaf covers {name}", "green")))
        else:
            console.print(Text.assemble("  name:   ", (f"the leaf does NOT cover {name}", "bold red")))
    if insp.private_key is not None:
        k = insp.private_key
        size = f" {k.key_size} bits" if k.key_size and not k.key_type.startswith("EC") else ""
        fits = (f"fits certificate [{k.matches}]", "") if k.matches is not None \
            else ("fits none of the certificates", "red")
        console.print(Text.assemble(f"  key:    private key {safe(k.key_type)}{size}, ", fits))
    if insp.anchor is not None:
        render_anchor(insp.anchor, console)
    for note in insp.notes:
        console.print(Text(f"  note:   {safe(note)}", style="dim"), soft_wrap=True)
    console.print()
    render_chain(chain, console, title="Chain" if insp.kind == "file" else "Presented chain", shape=insp.shape)
    console.print()
    rs = roles(chain)
    parents = issuer_index(chain)
    on_path_set = set(insp.shape.path)
    first: dict[bytes, int] = {}
    for i, info in enumerate(chain.certs):
        on_path = insp.shape.bundle or i in on_path_set
        if first.setdefault(info.der, i) != i:  # a repeat is named, not drawn again (10,000 copies stay fast)
            console.print(f"[{i}] the same certificate as [{first[info.der]}] (identical bytes)", markup=False,
                          soft_wrap=True)
            continue
        render_cert(info, console, index=i, role=rs[i], issued_by=parents.get(i), on_path=on_path)


def render_anchor(anchor: AnchorCheck, console: "Console") -> None:
    """One ``trust:`` line: the CA of ``--ca-file`` the leaf's path reaches, or none."""
    from rich.text import Text

    if anchor.reached:
        console.print(Text.assemble("  trust:  ", (f"reaches {safe(_short(anchor.anchor or ''))} in {safe(anchor.ca_file)}",
                                                   "green"),
                                    f" (from [{anchor.via}])"), soft_wrap=True)
    else:
        console.print(Text.assemble("  trust:  ", (f"the leaf's path reaches no CA in {safe(anchor.ca_file)}", "bold red")),
                      soft_wrap=True)


_FORMAT_WORDS = {
    "pem": "PEM",
    "der": "DER",
    "pkcs7-pem": "PKCS#7 (PEM)",
    "pkcs7-der": "PKCS#7 (DER)",
    "pkcs12": "PKCS#12",
    "tls": "TLS",
}


__all__ = [
    "SOON_DAYS",
    "KeyInfo",
    "AnchorCheck",
    "ChainShape",
    "Inspection",
    "key_info",
    "roles",
    "issuer_index",
    "validity_words",
    "validity_style",
    "cert_json",
    "chain_json",
    "certificates_json",
    "inspection_json",
    "cert_table",
    "chain_tree",
    "render_chain",
    "render_cert",
    "render_inspection",
    "render_anchor",
]
