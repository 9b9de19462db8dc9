"""Refresh the browser libraries the hub serves itself (``make vendor``).

The hub's pages (GraphiQL, the Task Force dashboard) load nothing from another host, so the
libraries they use are committed under ``hub/server/static/vendor/``. Which packages, at which
exact versions, is declared once in ``hub/server/static/vendor/package.json``; which files of
each package are served is its ``vendorFiles`` map. This script asks npm for the lockfile
(``package-lock.json``, resolved from the npm registry), downloads each package's tarball with
``npm pack``, checks the tarball against the lockfile's integrity hash, and copies the listed
files (licences included) into place. ``tests/test_vendor.py`` checks the committed files
against the same hashes.

Usage: ``python tools/vendor.py`` (needs ``npm``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "hub" / "server" / "static" / "vendor"
MANIFESTS = ("package.json", "package-lock.json", ".npmrc")


def integrity_of(tarball: Path, algorithm: str) -> str:
    """The Subresource-Integrity string (``sha512-…``) npm records for a tarball."""
    digest = hashlib.new(algorithm, tarball.read_bytes()).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode()}"


def locked(lock: dict, name: str) -> dict:
    entry = lock.get("packages", {}).get(f"node_modules/{name}")
    if entry is None:
        raise SystemExit(f"{name} is not in package-lock.json")
    return entry


def fetch_tarball(name: str, version: str, workdir: Path) -> Path:
    """``npm pack name@version``: the registry's tarball, through npm's own cache."""
    out = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(workdir)],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    return workdir / json.loads(out.stdout)[0]["filename"]


def main() -> int:
    if shutil.which("npm") is None:
        print("make vendor needs npm (Debian: apt-get install npm)", file=sys.stderr)
        return 1
    manifest = json.loads((VENDOR / "package.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="tppo-vendor-") as tmp:
        work = Path(tmp)
        for name in MANIFESTS:
            if (VENDOR / name).exists():
                shutil.copy2(VENDOR / name, work / name)
        # Resolve (or confirm) the exact versions in package.json into the lockfile.
        subprocess.run(
            ["npm", "install", "--package-lock-only", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=work,
            check=True,
        )
        lock = json.loads((work / "package-lock.json").read_text(encoding="utf-8"))
        for name, files in manifest["vendorFiles"].items():
            entry = locked(lock, name)
            tarball = fetch_tarball(name, entry["version"], work)
            expected = entry["integrity"]
            actual = integrity_of(tarball, expected.split("-", 1)[0])
            if actual != expected:
                raise SystemExit(f"{name}@{entry['version']}: tarball does not match package-lock.json")
            target = VENDOR / name
            if target.exists():
                shutil.rmtree(target)
            with tarfile.open(tarball) as archive:
                for relative in files:
                    member = archive.extractfile(f"package/{relative}")
                    if member is None:
                        raise SystemExit(f"{name}: no file {relative} in the package")
                    destination = target / relative
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    destination.write_bytes(member.read())
            print(f"vendored {name}@{entry['version']}: {len(files)} files")
        shutil.copy2(work / "package-lock.json", VENDOR / "package-lock.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
