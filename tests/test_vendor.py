"""The vendored browser libraries are exactly the npm packages the lockfile names.

``hub/server/static/vendor/package-lock.json`` records, per package, the registry's sha512
of its tarball. The test fetches each tarball with ``npm pack`` (from npm's cache or the
registry), checks it against that hash, and compares every committed file byte for byte with
the file of the same path inside the tarball. Without npm only the offline checks run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

VENDOR = Path(__file__).resolve().parent.parent / "hub" / "server" / "static" / "vendor"
MANIFEST = json.loads((VENDOR / "package.json").read_text(encoding="utf-8"))
LOCK = json.loads((VENDOR / "package-lock.json").read_text(encoding="utf-8"))
#: Files of the vendor folder itself, not copied from a package.
OWN_FILES = {"package.json", "package-lock.json", ".npmrc", "LICENSES.md"}


def locked(name: str) -> dict[str, Any]:
    return LOCK["packages"][f"node_modules/{name}"]


def test_every_dependency_is_pinned_exactly_and_locked() -> None:
    for name, spec in MANIFEST["dependencies"].items():
        assert spec[0].isdigit(), f"{name}: pin an exact version, not {spec!r}"
        assert locked(name)["version"] == spec
        assert locked(name)["integrity"].startswith("sha512-")
    assert set(MANIFEST["vendorFiles"]) == set(MANIFEST["dependencies"])


def test_the_vendor_folder_holds_exactly_the_declared_files() -> None:
    declared = {f"{name}/{path}" for name, paths in MANIFEST["vendorFiles"].items() for path in paths}
    present = {
        p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()
    } - OWN_FILES
    assert present == declared


def test_each_package_has_its_licence_listed_with_its_version() -> None:
    licences = (VENDOR / "LICENSES.md").read_text(encoding="utf-8")
    for name, spec in MANIFEST["dependencies"].items():
        row = next((line for line in licences.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"{name} missing from LICENSES.md"
        assert f"| {spec} |" in row
        package = json.loads((VENDOR / name / "package.json").read_text(encoding="utf-8"))
        assert package["version"] == spec
        assert package["license"] in row
        own_licence = [p for p in MANIFEST["vendorFiles"][name] if p.upper().startswith("LICENSE")]
        for path in own_licence:
            assert f"{name}/{path}" in row


def _integrity(data: bytes, algorithm: str) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")
@pytest.mark.parametrize("name", sorted(MANIFEST["vendorFiles"]))
def test_committed_files_equal_the_locked_tarball(name: str, tmp_path: Path) -> None:
    entry = locked(name)
    done = subprocess.run(
        ["npm", "pack", f"{name}@{entry['version']}", "--json", "--pack-destination", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.skip(f"npm pack failed (no registry or cache?): {done.stderr.strip()[:200]}")
    tarball = tmp_path / json.loads(done.stdout)[0]["filename"]
    expected = entry["integrity"]
    assert _integrity(tarball.read_bytes(), expected.split("-", 1)[0]) == expected
    with tarfile.open(tarball) as archive:
        for path in MANIFEST["vendorFiles"][name]:
            member = archive.extractfile(f"package/{path}")
            assert member is not None, f"{name}: {path} not in the package"
            assert (VENDOR / name / path).read_bytes() == member.read(), f"{name}/{path} differs"
