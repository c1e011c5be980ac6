from __future__ import annotations

import sys

#: old module -> new module (moved in 0.2; the shims go in 0.3)
MOVED = {
    "certdoctor.pemscan": "certdoctor.x509.pem",
    "certdoctor.load": "certdoctor.x509.load",
    "certdoctor.convert": "certdoctor.x509.convert",
    "certdoctor.path": "certdoctor.net.aia",  # build_path(…, aia=, cache=) chases AIA; x509.path is the pure half
    "certdoctor.target": "certdoctor.net.target",
    "certdoctor.resolve": "certdoctor.net.resolve",
    "certdoctor.probe": "certdoctor.net.probe",
    "certdoctor.fetch": "certdoctor.net.fetch",
    "certdoctor.bundle": "certdoctor.remedies.bundle",
    "certdoctor.fix": "certdoctor.remedies.client",
    "certdoctor.remedy": "certdoctor.remedies.fix",
    "certdoctor.pin": "certdoctor.pinning.pins",
    "certdoctor.report": "certdoctor.render.inspect",
    "certdoctor.report_diagnose": "certdoctor.render.diagnose",
    "certdoctor.ocsp_responder": "certdoctor.lab.ocsp",
}


# Installed by ``import certdoctor``, so it costs nothing until an old name is imported:
# the finder and loader are plain classes (``sys.meta_path`` only needs ``find_spec``; a loader
# ``create_module``/``exec_module``): ``importlib.abc`` alone would import typing, tempfile,
# random, pathlib… and triple ``certdoctor --version``.
class _Alias:
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec):
        import importlib
        import warnings

        warnings.warn(f"{spec.name} moved to {self.new}; the old name goes in certdoctor 0.3",
                      DeprecationWarning, stacklevel=4)
        return importlib.import_module(self.new)

    def exec_module(self, module) -> None:  # already executed under its new name
        pass


class _Finder:
    def find_spec(self, fullname, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None:
            return None
        import importlib.util

        return importlib.util.spec_from_loader(fullname, _Alias(new))

    def invalidate_caches(self) -> None:  # importlib.invalidate_caches() asks every finder
        pass


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
