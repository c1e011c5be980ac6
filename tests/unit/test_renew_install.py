"""renew/install.py (issue 12 item 4): install without loss, with real faults and no mocks of the
file system. We run as root here, where permissions stop nothing: the faults are a file-size
limit (RLIMIT_FSIZE in a subprocess: EFBIG), a target that is a directory, a path through a
regular file, and a ``.prev`` that is a directory (the swap of the last file fails after the
others were swapped). After each fault the old files are byte-identical and no temp file is left."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from certdoctor.errors import CertdoctorError, UsageError
from certdoctor.renew.install import Files, InstallError, Lineage, current, install, rollback
from support.pki import TestCA, pem
from support.tree import snapshot

ROOT = TestCA("Install Root")
INTER = ROOT.intermediate("Install Intermediate")


def issued(name="a.test"):
    leaf = INTER.issue_cert(name)
    cert, chain = pem(leaf.cert), pem(INTER.cert)
    return {"cert_pem": cert, "chain_pem": chain, "fullchain_pem": cert + chain, "key_pem": leaf.key_pem()}


V1, V2, V3 = issued(), issued(), issued()
SRC = str(Path(__file__).resolve().parents[2] / "src")


def files_in(d: Path) -> Files:
    return Files(cert=d / "cert.pem", chain=d / "chain.pem", fullchain=d / "fullchain.pem", key=d / "key.pem")


def put(dest: Files, bundle: dict) -> None:
    """Files as an operator left them (no .prev)."""
    for role, path in dest.paths().items():
        path.write_bytes(bundle[f"{role}_pem"])
        os.chmod(path, 0o600 if role == "key" else 0o644)


def no_temps(base: Path) -> None:
    assert not [p for p in snapshot(base) if Path(p).name.startswith(".")], snapshot(base).keys()


# ----------------------------------------------------------------------------- Files

def test_a_first_install_creates_the_files(tmp_path):
    dest = files_in(tmp_path)
    done = install(dest, **V1)
    assert (tmp_path / "fullchain.pem").read_bytes() == V1["fullchain_pem"]
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cert.pem").stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["cert.pem", "chain.pem", "fullchain.pem", "key.pem"]
    assert all(s.prev is None and s.old_sha256 is None for s in done.swaps)
    cur = current(dest)
    assert cur.cert.public_bytes(__import__("cryptography").hazmat.primitives.serialization.Encoding.PEM) == \
        V1["cert_pem"]
    assert cur.key_path == tmp_path / "key.pem" and cur.fullchain_path == tmp_path / "fullchain.pem"


def test_a_replace_keeps_the_previous_as_prev_and_the_one_before_goes(tmp_path):
    dest = files_in(tmp_path)
    put(dest, V1)
    install(dest, **V2)
    for role, path in dest.paths().items():
        assert path.read_bytes() == V2[f"{role}_pem"]
        assert Path(f"{path}.prev").read_bytes() == V1[f"{role}_pem"]
    assert stat.S_IMODE((tmp_path / "key.pem.prev").stat().st_mode) == 0o600
    install(dest, **V3)
    for role, path in dest.paths().items():
        assert path.read_bytes() == V3[f"{role}_pem"] and Path(f"{path}.prev").read_bytes() == V2[f"{role}_pem"]
    assert len(os.listdir(tmp_path)) == 8
    no_temps(tmp_path)


def test_modes_are_kept_and_a_world_readable_key_is_made_0600(tmp_path):
    dest = files_in(tmp_path)
    put(dest, V1)
    os.chmod(dest.cert, 0o640)
    os.chmod(dest.key, 0o644)
    install(dest, **V2)
    assert stat.S_IMODE(dest.cert.stat().st_mode) == 0o640
    assert stat.S_IMODE(dest.key.stat().st_mode) == 0o600
    os.chmod(dest.key, 0o640)  # a group (ssl-cert) the operator chose: kept
    install(dest, **V3)
    assert stat.S_IMODE(dest.key.stat().st_mode) == 0o640


def test_a_symlinked_path_is_written_through_and_the_link_kept(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "site.crt").write_bytes(V1["fullchain_pem"])
    link = tmp_path / "fullchain.pem"
    os.symlink(real / "site.crt", link)
    (tmp_path / "key.pem").write_bytes(V1["key_pem"])
    dest = Files(fullchain=link, key=tmp_path / "key.pem")
    install(dest, cert_pem=None, chain_pem=None, fullchain_pem=V2["fullchain_pem"], key_pem=V2["key_pem"])
    assert link.is_symlink() and os.readlink(link) == str(real / "site.crt")
    assert (real / "site.crt").read_bytes() == V2["fullchain_pem"]
    assert (real / "site.crt.prev").read_bytes() == V1["fullchain_pem"]
    assert current(dest).cert_path == link


def test_rollback_puts_the_previous_set_back(tmp_path):
    dest = files_in(tmp_path)
    put(dest, V1)
    install(dest, **V2)
    before = snapshot(tmp_path)
    done = install(dest, **V3)
    rollback(done)
    after = snapshot(tmp_path)
    for role, path in dest.paths().items():
        assert path.read_bytes() == V2[f"{role}_pem"]  # back to what was there before the install
    assert {k: v for k, v in after.items()} == {**before, **{k: after[k] for k in after if k.endswith(".prev")}}
    no_temps(tmp_path)
    with pytest.raises(UsageError, match="changed since"):
        rollback(done)  # twice: the files are no longer the ones installed


def test_rollback_of_a_first_install_removes_the_new_files(tmp_path):
    dest = files_in(tmp_path)
    rollback(install(dest, **V1))
    assert os.listdir(tmp_path) == []
    assert current(dest) is None


def test_rollback_refuses_when_someone_installed_since(tmp_path):
    dest = files_in(tmp_path)
    put(dest, V1)
    done = install(dest, **V2)
    dest.cert.write_bytes(V3["cert_pem"])
    before = snapshot(tmp_path)
    with pytest.raises(UsageError, match="changed since"):
        rollback(done)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", ["directory", "through_a_file", "missing_dir", "same_file"])
def test_bad_paths_are_refused_before_anything_is_written(tmp_path, case):
    dest = files_in(tmp_path)
    put(dest, V1)
    if case == "directory":
        dest.chain.unlink()
        dest.chain.mkdir()
    elif case == "through_a_file":
        dest = Files(cert=dest.cert, chain=dest.chain, fullchain=dest.fullchain, key=dest.cert / "key.pem")
    elif case == "missing_dir":
        dest = Files(cert=dest.cert, key=tmp_path / "nope" / "key.pem")
    else:
        dest = Files(cert=dest.cert, fullchain=dest.cert)
    before = snapshot(tmp_path)
    with pytest.raises(CertdoctorError) as exc:
        install(dest, **V2)
    assert exc.value.hint and "\n" not in exc.value.message
    assert snapshot(tmp_path) == before


def test_inputs_that_cannot_work_are_refused(tmp_path):
    dest = files_in(tmp_path)
    put(dest, V1)
    before = snapshot(tmp_path)
    for bad in ({**V2, "key_pem": V3["key_pem"]}, {**V2, "fullchain_pem": V3["fullchain_pem"]},
                {**V2, "cert_pem": b"garbage"}, {**V2, "key_pem": b"garbage"}):
        with pytest.raises(UsageError, match="nothing installed"):
            install(dest, **bad)
    assert snapshot(tmp_path) == before


def test_a_swap_that_fails_midway_puts_everything_back(tmp_path):
    """The fault comes in the swap phase: ``key.pem.prev`` is a non-empty directory, so replacing
    it fails (EISDIR) after the cert, chain and full chain were swapped (and their old .prev
    files displaced): all of them are put back."""
    dest = files_in(tmp_path)
    put(dest, V1)
    for role, path in dest.paths().items():
        if role != "key":
            Path(f"{path}.prev").write_bytes(b"the .prev before: " + role.encode())
    (tmp_path / "key.pem.prev").mkdir()
    (tmp_path / "key.pem.prev" / "x").write_text("in the way")
    before = snapshot(tmp_path)
    with pytest.raises(InstallError) as exc:
        install(dest, **V2)
    assert "unchanged" in exc.value.message and exc.value.hint and exc.value.exit_code == 1
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- a disk that refuses the write

_FAULT = textwrap.dedent("""
    import json, resource, signal, sys
    from pathlib import Path
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
    from certdoctor.errors import CertdoctorError
    from certdoctor.renew.install import Files, Lineage, install
    spec = json.loads(sys.argv[2])
    data = {k: v.encode() for k, v in spec.get("data", {}).items()}
    if "installed" in spec:
        dest = None
    elif "lineage" in spec:
        dest = Lineage(Path(spec["lineage"]), spec["name"])
    else:
        dest = Files(**{k: Path(v) for k, v in spec["files"].items()})
    try:
        if "installed" in spec:  # roll back what the parent installed
            import pickle
            from certdoctor.renew.install import rollback
            rollback(pickle.loads(Path(spec["installed"]).read_bytes()))
        else:
            install(dest, **data)
    except CertdoctorError as exc:
        print(json.dumps({"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}))
        sys.exit(exc.exit_code)
    print(json.dumps({"type": None}))
""")


def run_limited(limit: int, spec: dict) -> tuple[int, dict]:
    env = {**os.environ, "PYTHONPATH": SRC}
    p = subprocess.run([sys.executable, "-c", _FAULT, str(limit), json.dumps(spec)], capture_output=True,
                       text=True, timeout=120, env=env)
    assert "Traceback" not in p.stderr, p.stderr
    return p.returncode, json.loads(p.stdout)


def _spec(bundle: dict) -> dict:
    return {"data": {k: v.decode() for k, v in bundle.items()}}


@pytest.mark.parametrize("where", ["first", "midway"])
def test_a_file_size_limit_leaves_the_old_files(tmp_path, where):
    """EFBIG on the first temp (a 1-byte limit), or after some temps were written (the
    certificate, the chain and their .prev copies fit, the full chain does not): nothing
    replaced, no temp left."""
    dest = files_in(tmp_path)
    put(dest, V1)
    before = snapshot(tmp_path)
    limit = 1 if where == "first" else max(len(V2["cert_pem"]), len(V2["chain_pem"]), len(V1["chain_pem"])) + 1
    assert limit < len(V2["fullchain_pem"])
    rc, out = run_limited(limit, {**_spec(V2), "files": {r: str(p) for r, p in dest.paths().items()}})
    assert rc == 1 and out["type"] == "InstallError", out
    assert "File too large" in out["message"] and "unchanged" in out["message"] and "ulimit" in out["hint"]
    assert snapshot(tmp_path) == before


def test_without_the_limit_the_same_subprocess_installs(tmp_path):
    dest = files_in(tmp_path)
    put(dest, V1)
    rc, out = run_limited(1 << 20, {**_spec(V2), "files": {r: str(p) for r, p in dest.paths().items()}})
    assert rc == 0 and out["type"] is None
    assert dest.fullchain.read_bytes() == V2["fullchain_pem"]


# ----------------------------------------------------------------------------- Lineage (certbot's layout)

def certbot_lineage(root: Path, name: str, versions: dict[int, dict], live: int) -> None:
    """A lineage laid out exactly as certbot does: archive/NAME/{cert,chain,fullchain,privkey}N.pem
    (privkey 0600), live/NAME/*.pem relative links ../../archive/NAME/*N.pem, a README in live/,
    renewal/NAME.conf beside them, live/ and archive/ 0700."""
    for d in ("archive", "live", "renewal"):
        (root / d).mkdir(mode=0o700, exist_ok=True)
    (root / "archive" / name).mkdir()
    (root / "live" / name).mkdir()
    for n, bundle in versions.items():
        for kind, role in (("cert", "cert"), ("chain", "chain"), ("fullchain", "fullchain"), ("privkey", "key")):
            p = root / "archive" / name / f"{kind}{n}.pem"
            p.write_bytes(bundle[f"{role}_pem"])
            os.chmod(p, 0o600 if kind == "privkey" else 0o644)
    for kind in ("cert", "chain", "fullchain", "privkey"):
        os.symlink(f"../../archive/{name}/{kind}{live}.pem", root / "live" / name / f"{kind}.pem")
    (root / "live" / name / "README").write_text("This directory contains your keys and certificates.\n")
    (root / "renewal" / f"{name}.conf").write_text(f"archive_dir = {root}/archive/{name}\n")


def test_a_first_lineage(tmp_path):
    lin = Lineage(tmp_path, "a.test")
    done = install(lin, **V1)
    assert (done.version, done.previous_version) == (1, None)
    assert os.readlink(tmp_path / "live" / "a.test" / "fullchain.pem") == "../../archive/a.test/fullchain1.pem"
    assert (tmp_path / "live" / "a.test" / "privkey.pem").read_bytes() == V1["key_pem"]
    assert stat.S_IMODE((tmp_path / "archive" / "a.test" / "privkey1.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "archive").stat().st_mode) == 0o700
    no_temps(tmp_path)
    assert current(lin).version == 1
    rollback(done)
    assert current(lin) is None and os.listdir(tmp_path / "live" / "a.test") == []


def test_a_certbot_lineage_is_read_and_extended(tmp_path):
    certbot_lineage(tmp_path, "example.com", {1: V1, 2: V2}, live=2)
    lin = Lineage(tmp_path, "example.com")
    cur = current(lin)
    assert cur.version == 2 and cur.key_path == tmp_path / "live" / "example.com" / "privkey.pem"
    archive_before = snapshot(tmp_path / "archive")
    done = install(lin, **V3)
    assert (done.version, done.previous_version) == (3, 2)
    for kind in ("cert", "chain", "fullchain", "privkey"):
        assert os.readlink(tmp_path / "live" / "example.com" / f"{kind}.pem") == f"../../archive/example.com/{kind}3.pem"
    assert (tmp_path / "live" / "example.com" / "fullchain.pem").read_bytes() == V3["fullchain_pem"]
    after = snapshot(tmp_path / "archive")
    assert {k: v for k, v in after.items() if k in archive_before} == archive_before  # versions 1 and 2 untouched
    assert sorted(set(after) - set(archive_before)) == [f"example.com/{k}3.pem" for k in
                                                        ("cert", "chain", "fullchain", "privkey")]
    assert (tmp_path / "live" / "example.com" / "README").exists()
    no_temps(tmp_path)
    rollback(done)
    assert current(lin).version == 2
    assert os.readlink(tmp_path / "live" / "example.com" / "privkey.pem") == "../../archive/example.com/privkey2.pem"


def test_a_lineage_pointing_at_an_older_version_gets_the_next_free_number(tmp_path):
    certbot_lineage(tmp_path, "b.test", {1: V1, 2: V2}, live=1)  # certbot rollback leaves live at 1
    done = install(Lineage(tmp_path, "b.test"), **V3)
    assert (done.version, done.previous_version) == (3, 1)
    assert (tmp_path / "archive" / "b.test" / "cert2.pem").read_bytes() == V2["cert_pem"]
    rollback(done)
    assert current(Lineage(tmp_path, "b.test")).version == 1


def test_a_lineage_with_a_regular_file_in_live_is_refused(tmp_path):
    certbot_lineage(tmp_path, "c.test", {1: V1}, live=1)
    link = tmp_path / "live" / "c.test" / "cert.pem"
    link.unlink()
    link.write_bytes(V1["cert_pem"])
    before = snapshot(tmp_path)
    with pytest.raises(UsageError, match="not a certbot-like lineage"):
        install(Lineage(tmp_path, "c.test"), **V2)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["first", "midway"])
def test_a_file_size_limit_leaves_the_lineage(tmp_path, where):
    limit = 1 if where == "first" else max(len(V2["cert_pem"]), len(V2["chain_pem"])) + 1
    certbot_lineage(tmp_path, "d.test", {1: V1}, live=1)
    before = snapshot(tmp_path)
    rc, out = run_limited(limit, {**_spec(V2), "lineage": str(tmp_path), "name": "d.test"})
    assert rc == 1 and out["type"] == "InstallError" and "File too large" in out["message"], out
    assert snapshot(tmp_path) == before  # no cert2.pem, no temp, links unchanged


def test_a_file_size_limit_during_rollback_leaves_the_installed_files(tmp_path):
    """rollback() is all-or-nothing too: it stages the previous files beside the targets first;
    EFBIG there leaves the newly installed set in place, whole."""
    import pickle

    work = tmp_path / "w"
    work.mkdir()
    dest = files_in(work)
    put(dest, V1)
    done = install(dest, **V2)
    state = tmp_path / "installed.pickle"
    state.write_bytes(pickle.dumps(done))
    before = snapshot(work)
    limit = max(len(V1["cert_pem"]), len(V2["cert_pem"])) + 1  # the cert's temps fit, the full chain's do not
    rc, out = run_limited(limit, {"installed": str(state)})
    assert rc == 1 and out["type"] == "InstallError" and "File too large" in out["message"], out
    assert snapshot(work) == before
    rc, out = run_limited(1 << 20, {"installed": str(state)})  # the same rollback, room enough
    assert rc == 0, out
    assert dest.fullchain.read_bytes() == V1["fullchain_pem"] and dest.key.read_bytes() == V1["key_pem"]


# ----------------------------------------------------------------------------- immutable files (chattr +i)

@pytest.fixture
def immutable():
    """``immutable(path)``: chattr +i (even root cannot replace or unlink it), undone after the test;
    skipped where the file system or the container does not allow it."""
    import shutil

    done = []

    def make(path: Path) -> None:
        if shutil.which("chattr") is None:
            pytest.skip("no chattr")
        p = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            pytest.skip(f"chattr +i refused here: {p.stderr.strip()}")
        done.append(path)

    yield make
    for path in done:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True, timeout=30)


def test_an_immutable_full_chain_fails_the_swap_and_all_is_put_back(tmp_path, immutable):
    """EPERM on os.replace over the full chain, after the cert and the chain were swapped."""
    dest = files_in(tmp_path)
    put(dest, V1)
    before = snapshot(tmp_path)
    immutable(dest.fullchain)
    with pytest.raises(InstallError) as exc:
        install(dest, **V2)
    assert "fullchain" in exc.value.message and "unchanged" in exc.value.message
    assert snapshot(tmp_path) == before


def test_a_rollback_that_fails_midway_leaves_the_installed_set(tmp_path, immutable):
    dest = files_in(tmp_path)
    put(dest, V1)
    done = install(dest, **V2)
    before = snapshot(tmp_path)
    immutable(dest.key)  # the last one rolled back
    with pytest.raises(InstallError):
        rollback(done)
    assert snapshot(tmp_path) == before  # cert, chain and full chain went back to V2 again


def test_an_immutable_live_directory_leaves_the_lineage(tmp_path, immutable):
    """The archive files are written, then the links cannot be made: the archive files go again."""
    certbot_lineage(tmp_path, "e.test", {1: V1}, live=1)
    before = snapshot(tmp_path)
    immutable(tmp_path / "live" / "e.test")
    with pytest.raises(InstallError):
        install(Lineage(tmp_path, "e.test"), **V2)
    assert snapshot(tmp_path) == before
