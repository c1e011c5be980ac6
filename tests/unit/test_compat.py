"""Old module paths keep working for one release, with a warning; ``certdoctor.diagnose`` is
always the module, whatever was imported first."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from certdoctor._compat import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_imports_the_new_module_with_a_warning(old):
    code = ("import warnings, importlib, sys\n"
            "warnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            f"    m = importlib.import_module({old!r})\n"
            "print(m.__name__)\n"
            "print(any(issubclass(x.category, DeprecationWarning) and 'moved to' in str(x.message) for x in w))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [MOVED[old], "True"]


def test_old_names_are_the_same_objects():
    with pytest.warns(DeprecationWarning):
        old = importlib.import_module("certdoctor.fix")
    from certdoctor.remedies.client import ca_bundle

    assert old.ca_bundle is ca_bundle


@pytest.mark.parametrize("first", ["certdoctor.expiry", "certdoctor.remedies.fix", "certdoctor.cli.diagnose", None])
def test_certdoctor_diagnose_is_always_the_module(first):
    code = (f"import {first}\n" if first else "") + (
        "import certdoctor, types\n"
        "from certdoctor.diagnose import diagnose\n"
        "print(isinstance(certdoctor.diagnose, types.ModuleType), callable(diagnose))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True"]


def test_readme_api_resolves():
    import certdoctor
    from certdoctor.diagnose import diagnose
    from certdoctor.lab import Lab
    from certdoctor.pinning import PinnedAdapter, httpx_client

    assert callable(certdoctor.ca_bundle) and callable(certdoctor.ssl_context)
    assert callable(certdoctor.requests_session) and callable(diagnose)
    assert PinnedAdapter.__module__ == "certdoctor.pinning.adapters"
    assert httpx_client.__module__ == "certdoctor.pinning.adapters"
    assert Lab.__module__ == "certdoctor.lab.core"
