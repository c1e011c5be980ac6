"""Hostile text never reaches the terminal raw, and what certdoctor asks a user to paste can be pasted.

Issue 10, items 3 and 12. A CA and a server whose certificates carry an OSC 52 clipboard write
(``ESC ] 52 ; c ; … BEL``), ``ESC [ 2 J``, the 8-bit CSI ``U+009B``, BEL, NUL, DEL, a forged
``\\n✓ requests verifies`` line and bidi overrides in every name field a person reads (subject
CN/O/OU, issuer, a SAN, the AIA/CRL/OCSP URLs), served by a real TLS server on 127.0.0.1: every
command's human output (stdout and stderr), through the in-process CLI, holds none of those
characters, and does show the escaped text (so the check is not vacuous). ``lint`` gets a file
(with such a name) holding escapes in a string literal and a comment. ``--json`` keeps the exact
data. ``fix --out`` with directory names holding spaces, quotes and ``$(...)`` prints commands
bash parses, and the ``export`` lines mean that very directory. Piped output (``COLUMNS=80``)
breaks no path, fingerprint or command over two lines.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from support.cli import run_cli_captured
from support.pki import TestCA
from support.servers import reply, tls_server

#: what the issue names, in one string: a clipboard write, clear screen, 8-bit CSI, BEL, NUL, DEL,
#: a forged line, and the bidi controls (override, isolate, marks)
HOSTILE = ("\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x9b31m\x07\x00\x7f\r\n\u2714 requests verifies this server "
           "\u202eelif\u202c\u2066x\u2069\u200f\u061c")
#: the same within the 64 characters of a CN
HOSTILE_CN = "\x1b]52;c;QQ==\x07\x1b[2J\x9b1m\x00\x7f\n\u2714 ok \u202eab\u202c\u2066"
#: the same for a DNS name (cryptography takes ASCII only there)
HOSTILE_DNS = "evil\x1b[2J\x1b]52;c;QQ==\x07\x00\x7f.example"
#: a URL the certificate points at: port 1 on loopback refuses at once (or is refused by policy)
HOSTILE_URL = "http://127.0.0.1:1/\x1b]52;c;QQ==\x07\x1b[2J"

#: every character that must never be printed: C0 but TAB/LF, DEL, C1, the bidi controls
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _name(label: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{label} O{HOSTILE}", _type=_ASN1Type.UTF8String),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"OU{HOSTILE}", _type=_ASN1Type.UTF8String),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{label} CN{HOSTILE_CN}", _type=_ASN1Type.UTF8String),
    ])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A hostile root (self-signed, sent by the server) and a leaf for a hostile DNS name and
    127.0.0.1, both with hostile subjects and URLs; files of the chain and the root."""
    d = tmp_path_factory.mktemp("hostile")
    ca = TestCA(_name("Root"), aia_url=HOSTILE_URL, crl_url=HOSTILE_URL, ocsp_url=HOSTILE_URL)
    leaf = ca.issue_cert(HOSTILE_DNS, "127.0.0.1", subject=_name("Leaf"))
    chain = d / "chain.pem"
    chain.write_bytes(leaf.chain_pem(with_root=True))
    root = d / "root.pem"
    root.write_bytes(ca.cert_pem())
    from certdoctor.model import fingerprint_sha256

    return {"ca": ca, "leaf": leaf, "chain": chain, "root": root, "root_fp": fingerprint_sha256(ca.cert),
            "leaf_fp": fingerprint_sha256(leaf.cert)}


def _assert_clean(what: str, text: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in FORBIDDEN.findall(text)})
    assert not bad, f"{what}: raw control characters reach the terminal: {bad}\n{text[:2000]!r}"


def _run(argv, capsys) -> tuple[int, str]:
    code, out, err = run_cli_captured([str(a) for a in argv], capsys)
    _assert_clean(" ".join(map(str, argv)) + " (stdout)", out)
    _assert_clean(" ".join(map(str, argv)) + " (stderr)", err)
    return code, out + err


def _shown(text: str) -> bool:
    """Did the hostile text reach the output, escaped?"""
    return "\\x1b]52;c;" in text or "\\x1b[2J" in text


def test_every_command_prints_hostile_certificate_text_escaped(hostile, tmp_path, capsys):
    chain, root = hostile["chain"], hostile["root"]
    with tls_server(hostile["leaf"].chain_pem(with_root=True), hostile["leaf"].key, handler=reply(b"ok")) as srv:
        url = f"https://127.0.0.1:{srv.port}/"
        host = f"127.0.0.1:{srv.port}"
        runs = {
            "diagnose untrusted": ["diagnose", url, "--timeout", "5"],
            "diagnose trusted": ["diagnose", url, "--ca-file", root, "--timeout", "5"],
            "diagnose name": ["diagnose", url, "--ca-file", root, "--servername", "other.example", "--timeout", "5"],
            "inspect url": ["inspect", host, "--timeout", "5"],
            "inspect file": ["inspect", chain],
            "inspect anchor": ["inspect", chain, "--ca-file", root],
            "pin url": ["pin", host, "--timeout", "5"],
            "pin file": ["pin", chain, "--ca-file", root],
            "expiry url": ["expiry", host, "--timeout", "5"],
            "expiry file": ["expiry", chain],
            "revocation url": ["revocation", url, "--timeout", "5"],
            "revocation file": ["revocation", chain],
            "fix": ["fix", url, "--out", tmp_path / "fix1", "--timeout", "5"],
            "fix trust": ["fix", url, "--out", tmp_path / "fix2", "--trust", hostile["root_fp"], "--timeout", "5"],
            "bundle add": ["bundle", "--add", root, "--out", tmp_path / "bundle.pem"],
            "bundle leaf": ["bundle", "--add", chain, "--out", tmp_path / "bundle2.pem"],
            "bundle check": ["bundle", "--check", chain],
            "convert": ["convert", chain, tmp_path / "out.pem", "--order"],
        }
        shown = {}
        for what, argv in runs.items():
            _, text = _run(argv, capsys)
            shown[what] = _shown(text)
    # every command that names a certificate showed its hostile name, escaped
    # (convert names files, not certificates; a proven fix names no certificate either)
    missing = [w for w, ok in shown.items() if not ok and w not in ("convert", "fix trust")]
    assert not missing, f"the hostile text never reached these outputs (the test would prove nothing): {missing}"


def test_a_hostile_path_in_an_error_line_is_escaped(capsys, tmp_path):
    code, text = _run(["inspect", str(tmp_path / f"missing{HOSTILE}.pem")], capsys)
    assert code == 2 and "error:" in text and "missing\\x1b]52" in text, text
    code, text = _run(["diagnose", "https://exa\x1b[2Jmple.test\u202e/"], capsys)
    assert code == 2 and "error:" in text


def test_lint_prints_scanned_escapes_escaped(tmp_path, capsys):
    src = tmp_path / "evil\x1b[2J\u202e.py"
    src.write_text("import requests\n"
                   "requests.get('https://x/\x1b]52;c;QQ==\x07', verify=False)  # \x1b[2J\u202e\x9b comment\n")
    code, text = _run(["lint", str(tmp_path)], capsys)
    assert code == 1 and "VERIFY_FALSE" in text
    assert "\\x1b]52;c;QQ==\\x07" in text and "\\u202e" in text, text


def test_json_keeps_the_exact_data_with_every_control_escaped_by_json(hostile, capsys):
    for argv in (["inspect", hostile["chain"], "--json"], ["pin", hostile["chain"], "--json"]):
        code, out, err = run_cli_captured([str(a) for a in argv], capsys)
        assert code == 0, err
        assert out.isascii() and not FORBIDDEN.search(out), "JSON output holds a raw control character"
        doc = json.loads(out)
        subjects = [c["subject"] for c in doc["certificates"]]
        # (RFC 4514 writes NUL as \\00 itself: every other character is there as the certificate has it)
        assert any(all(c in s for c in ("\x1b]52", "\x07", "\x9b", "\x7f", "\u202e", "\n")) for s in subjects), subjects


def test_lab_list_is_clean(capsys):
    code, text = _run(["lab", "--list"], capsys)
    assert code == 0 and "missing_intermediate" in text


# --------------------------------------------------------------------------- pasting

#: directory names a user may give to --out: spaces, quotes, $(...), backticks, globs, a newline-free
#: but hostile mix; each must come back as one shell word naming that directory
HOSTILE_DIRS = ["my fix's dir", "two  spaces", 'dq"uote', "$(touch PWNED)", "`touch PWNED2`", "semi;colon & amp",
                "glob*[x]?", "-leading-dash", "tab\there"]

#: a shell command inside a printed line: `...` spans, and the usage lines after their label
_TICKED = re.compile(r"`([^`]+)`")
_SHELL_LABELS = ("environment (all at once):", "pip:")


def _printed_commands(text: str) -> list[str]:
    """Every shell command in ``text``: a usage line's body after its label when that is a command
    (``export …``, ``pip config …``), else each `...` span that starts with a command."""
    cmds: list[str] = []
    for line in text.splitlines():
        body = line.strip()
        label = next((lab for lab in _SHELL_LABELS if body.startswith(lab)), None)
        rest = body[len(label):].strip() if label else ""
        if rest.split(" ", 1)[0] in ("export", "pip"):
            cmds.append(rest)
            continue
        cmds.extend(m for m in _TICKED.findall(line) if m.split()[0] in ("certdoctor", "export", "pip", "unset",
                                                                           "env", "openssl"))
    return cmds


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "HOME": str(cwd)}
    return subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=20, env=env)


@pytest.mark.parametrize("dirname", HOSTILE_DIRS)
def test_fix_commands_paste_into_bash(hostile, tmp_path, capsys, dirname):
    out_dir = tmp_path / dirname
    with tls_server(hostile["leaf"].chain_pem(with_root=True), hostile["leaf"].key, handler=reply(b"ok")) as srv:
        url = f"https://127.0.0.1:{srv.port}/"
        code, text = _run(["fix", url, "--out", out_dir, "--trust", hostile["root_fp"], "--timeout", "5"], capsys)
    bundle = out_dir / "ca-bundle.pem"
    assert code == 0 and bundle.is_file(), text
    cmds = _printed_commands(text)
    assert any(c.startswith("export ") for c in cmds) and any(c.startswith("pip config") for c in cmds), text
    for cmd in cmds:
        parsed = _bash(f"set -n\n{cmd}", tmp_path)  # bash -n: parse only, run nothing
        assert parsed.returncode == 0, (cmd, parsed.stderr)
    # the export line, run for real, names the bundle that was written (not PWNED, not a split word)
    export = next(c for c in cmds if c.startswith("export "))
    ran = _bash(f'{export}\nprintf "%s\\n" "$REQUESTS_CA_BUNDLE" "$SSL_CERT_FILE" "$PIP_CERT"', tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [str(bundle)] * 3
    pip_cmd = next(c for c in cmds if c.startswith("pip config"))
    ran = _bash(f'pip() {{ printf "%s\\n" "$@"; }}\n{pip_cmd}', tmp_path)
    assert ran.stdout.splitlines() == ["config", "set", "global.cert", str(bundle)]
    assert not list(tmp_path.rglob("PWNED*")), "a printed command ran a command substitution"


def test_diagnose_fix_text_quotes_the_options_of_this_run(hostile, tmp_path, capsys):
    """The commands a finding's fix suggests are filled with this run's URL and options, quoted."""
    other = tmp_path / "my ca's $(touch PWNED) file.pem"
    other.write_bytes(TestCA("Some Other Root").cert_pem())
    with tls_server(hostile["leaf"].chain_pem(with_root=True), hostile["leaf"].key, handler=reply(b"ok")) as srv:
        code, text = _run(["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", other, "--timeout", "5"],
                          capsys)
    cmds = [c for c in _printed_commands(text) if c.startswith("certdoctor fix")]
    assert cmds, text
    for cmd in cmds:
        ran = _bash(f'certdoctor() {{ printf "%s\\n" "$@"; }}\n{cmd}', tmp_path)
        assert ran.returncode == 0, (cmd, ran.stderr)
        words = ran.stdout.splitlines()
        assert words[words.index("--ca-file") + 1] == str(other), (cmd, words)
    assert not list(tmp_path.rglob("PWNED*"))


def test_bundle_commands_paste_into_bash(hostile, tmp_path, capsys):
    d = tmp_path / "my bundle's $(touch PWNED) dir"
    d.mkdir()
    out = d / "ca bundle.pem"
    code, text = _run(["bundle", "--add", hostile["root"], "--out", out], capsys)
    assert code == 0, text
    exports = [c for c in _printed_commands(text) if c.startswith("export ")]
    assert len(exports) == 3, text
    for line in exports:
        var = line.split()[1].split("=")[0]
        ran = _bash(f'{line}\nprintf "%s" "${var}"', tmp_path)
        assert ran.returncode == 0 and ran.stdout == str(out), (line, ran.stdout, ran.stderr)
    assert not list(tmp_path.rglob("PWNED*"))


def test_a_cd_into_a_quoted_directory_reaches_it(tmp_path):
    """``shell`` (what every printed command is built with) round-trips through a real bash ``cd``."""
    from certdoctor.render.text import shell

    for name in HOSTILE_DIRS + ["new\nline", "esc\x1b[2J", "bidi\u202e"]:
        d = tmp_path / name
        d.mkdir()
        line = shell("cd", str(d))
        _assert_clean("cd line", line)
        ran = _bash(f'{line} && pwd -P', tmp_path)
        assert ran.returncode == 0, (line, ran.stderr)
        assert ran.stdout[:-1] == str(d.resolve()), (line, ran.stdout)


# --------------------------------------------------------------------------- no hard wrap on a pipe

def test_piped_diagnose_keeps_paths_fingerprints_and_commands_on_one_line(hostile, tmp_path):
    """The real ``python -m certdoctor`` writing to a pipe with COLUMNS=80: a long --ca-file path,
    each fingerprint and each command stay on one physical line."""
    deep = tmp_path.joinpath(*["a-rather-long-directory-name-for-a-ca-file"] * 4)
    deep.mkdir(parents=True)
    ca_file = deep / "private-root-certificate-authority.pem"
    ca_file.write_bytes(hostile["root"].read_bytes())
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(COLUMNS="80", PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                          env.get("PYTHONPATH", "")]))
    with tls_server(hostile["leaf"].chain_pem(with_root=True), hostile["leaf"].key, handler=reply(b"ok")) as srv:
        url = f"https://127.0.0.1:{srv.port}/"
        outs = {}
        for argv in (["diagnose", url, "--ca-file", str(ca_file), "--servername", "other.example", "--timeout", "5"],
                     ["diagnose", url, "--timeout", "5"],
                     ["inspect", str(ca_file)]):
            p = subprocess.run([sys.executable, "-m", "certdoctor", *argv], capture_output=True, text=True,
                               timeout=120, env=env)
            _assert_clean(argv[0], p.stdout + p.stderr)
            outs[" ".join(argv[:1] + argv[2:3])] = p.stdout
    assert len(str(ca_file)) > 80
    trusted, untrusted, inspected = outs.values()
    assert any(len(line) > 80 for line in trusted.splitlines()), "nothing long was printed: the test is vacuous"
    # the path is printed whole on one line (a wrap would cut it)
    assert str(ca_file) in trusted, trusted
    # a fingerprint (95 characters, wider than the 80 columns) is printed whole
    assert hostile["root_fp"] in untrusted, untrusted
    assert hostile["root_fp"] in inspected, inspected
    # every printed command parses as one shell line
    cmds = [c for c in _printed_commands(trusted + untrusted)]
    assert cmds, untrusted
    for cmd in cmds:
        assert _bash(f"set -n\n{cmd}", tmp_path).returncode == 0, cmd
