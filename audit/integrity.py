"""SHA-256 listings of a folder (``SHA256SUMS``) and their verification.

The listing uses the format of GNU ``sha256sum``: one line per file, ``<hex digest>  <relative path>``,
paths with forward slashes, sorted, so ``sha256sum -c SHA256SUMS`` run inside the folder agrees with
:func:`verify`. The listing does not list itself. A zip of the folder verifies the same way: its members
are hashed in place, against the ``SHA256SUMS`` member.

This lives in the core so that ``audit verify-export`` can check an export without importing the
writers that made it.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SUMS_NAME = "SHA256SUMS"
_CHUNK = 1 << 20


class IntegrityError(ValueError):
    """The listing itself is missing or unreadable, so nothing can be verified."""


def sha256_bytes_of(stream) -> str:
    """Hex SHA-256 of a binary stream, read in chunks (exports can be large)."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as stream:
        return sha256_bytes_of(stream)


def compute_sums(folder: str | Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every file under ``folder`` except the listing itself."""
    root = Path(folder)
    sums = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative != SUMS_NAME:
            sums[relative] = sha256_file(path)
    return sums


def format_sums(sums: dict[str, str]) -> str:
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))


def parse_sums(text: str, origin: str = SUMS_NAME) -> dict[str, str]:
    """Read a ``sha256sum`` listing; a malformed line raises :class:`IntegrityError` naming it."""
    sums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep:  # sha256sum's binary mode writes "<digest> *<name>"
            digest, sep, name = line.partition(" *")
        digest = digest.strip().lower()
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name:
            raise IntegrityError(f"{origin} line {number} is not '<sha256>  <file>': {line!r}")
        if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
            raise IntegrityError(f"{origin} line {number} names a file outside the folder: {name!r}")
        sums[name] = digest
    return sums


def write_sums(folder: str | Path) -> Path:
    """Hash every file under ``folder`` and write the listing as ``folder/SHA256SUMS``."""
    path = Path(folder) / SUMS_NAME
    path.write_text(format_sums(compute_sums(folder)), encoding="utf-8", newline="\n")
    return path


@dataclass
class Verification:
    """What differs between a listing and the files: each a sorted list of relative paths."""

    source: str
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added)

    def problems(self) -> list[str]:
        """One line per problem, e.g. ``changed: exceptions.csv``."""
        return ([f"changed: {n}" for n in self.changed] + [f"missing: {n}" for n in self.missing]
                + [f"added: {n}" for n in self.added])


def _compare(source: str, listed: dict[str, str], actual: dict[str, str]) -> Verification:
    return Verification(
        source=source,
        checked=len(listed),
        changed=sorted(n for n in listed if n in actual and actual[n] != listed[n]),
        missing=sorted(n for n in listed if n not in actual),
        added=sorted(n for n in actual if n not in listed),
    )


def verify(target: str | Path) -> Verification:
    """Check a folder (or a zip of one) against its ``SHA256SUMS``: changed, missing and added files.

    Raises :class:`IntegrityError` when there is no readable listing, and ``FileNotFoundError`` when
    ``target`` does not exist.
    """
    target = Path(target)
    if not target.exists():
        raise FileNotFoundError(f"{target} does not exist")
    if target.is_file():
        return _verify_zip(target)
    listing = target / SUMS_NAME
    if not listing.is_file():
        raise IntegrityError(f"no {SUMS_NAME} in {target}: this is not an export folder, or its listing "
                             "was deleted")
    return _compare(str(target), parse_sums(listing.read_text(encoding="utf-8"), str(listing)),
                    compute_sums(target))


def _verify_zip(path: Path) -> Verification:
    if not zipfile.is_zipfile(path):
        raise IntegrityError(f"{path} is neither a folder nor a zip file")
    with zipfile.ZipFile(path) as archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        # The export zips its folder under one top-level directory; accept a flat zip too.
        listings = [i for i in members if PurePosixPath(i.filename).name == SUMS_NAME]
        if len(listings) != 1:
            raise IntegrityError(f"{path} holds {len(listings)} {SUMS_NAME} files; expected exactly one")
        prefix = listings[0].filename[: -len(SUMS_NAME)]
        listed = parse_sums(archive.read(listings[0]).decode("utf-8"), f"{path}:{listings[0].filename}")
        actual = {}
        for info in members:
            if info is listings[0]:
                continue
            name = info.filename[len(prefix):] if info.filename.startswith(prefix) else info.filename
            with archive.open(info) as stream:
                actual[name] = sha256_bytes_of(stream)
    return _compare(str(path), listed, actual)
