"""SHA-256 listings of a folder (``SHA256SUMS``) and their verification.

The listing uses the format of GNU ``sha256sum``: one line per file, ``<hex digest>  <relative path>``,
paths with forward slashes, sorted, so ``sha256sum -c SHA256SUMS`` run inside the folder agrees with
:func:`verify`. The listing does not list itself. A zip of the folder verifies the same way: its members
are hashed in place, against the ``SHA256SUMS`` member.

When the export was signed (``audit run --signing-key``), ``SHA256SUMS.sig`` holds an Ed25519 signature
of the listing (:mod:`audit.signing`); it is neither listed nor hashed itself. :func:`verify` given the
public key fails on an export that is unsigned, signed by another key, or whose listing changed after
signing, even when every hash was recomputed.

This lives in the core so that ``audit verify-export`` can check an export without importing the
writers that made it.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SUMS_NAME = "SHA256SUMS"
SIGNATURE_NAME = "SHA256SUMS.sig"
_NOT_LISTED = {SUMS_NAME, SIGNATURE_NAME}
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
        if relative not in _NOT_LISTED:
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
        if name in sums:
            raise IntegrityError(f"{origin} line {number} lists {name!r} a second time: a listing names each "
                                 "file once")
        sums[name] = digest
    if not sums:
        raise IntegrityError(f"{origin} lists no files: an empty listing proves nothing about the export")
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
    # "unsigned"; "signed" (a signature is there but no public key was given to check it); "valid";
    # or "invalid" with the reason in ``signature_problem``.
    signature: str = "unsigned"
    signer: str = ""  # the key fingerprint the signature file names (trusted only when ``valid``)
    signature_problem: str = ""

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added or self.signature_problem)

    def problems(self) -> list[str]:
        """One line per problem, e.g. ``changed: exceptions.csv``."""
        return ([f"changed: {n}" for n in self.changed] + [f"missing: {n}" for n in self.missing]
                + [f"added: {n}" for n in self.added]
                + ([f"signature: {self.signature_problem}"] if self.signature_problem else []))


def _compare(source: str, listed: dict[str, str], actual: dict[str, str]) -> Verification:
    return Verification(
        source=source,
        checked=len(listed),
        changed=sorted(n for n in listed if n in actual and actual[n] != listed[n]),
        missing=sorted(n for n in listed if n not in actual),
        added=sorted(n for n in actual if n not in listed),
    )


def _check_signature(check: Verification, listing: bytes, signature: bytes | None, public_key,
                     origin: str) -> Verification:
    from audit.signing import SigningError, check_signature, signer

    if signature is None:
        if public_key is not None:
            check.signature = "invalid"
            check.signature_problem = (f"the export is not signed ({SIGNATURE_NAME} is missing), so it cannot be "
                                       "shown to come from the holder of the key")
        return check
    text = signature.decode("utf-8", errors="replace")
    if public_key is None:
        check.signature = "signed"
        try:
            check.signer = signer(text, origin)
        except SigningError as exc:
            check.signature, check.signature_problem = "invalid", str(exc)
        return check
    problem = check_signature(listing, text, public_key, origin)
    check.signature = "invalid" if problem else "valid"
    check.signature_problem = problem or ""
    if not problem:
        from audit.signing import fingerprint

        check.signer = fingerprint(public_key)
    return check


def verify(target: str | Path, public_key=None) -> Verification:
    """Check a folder (or a zip of one) against its ``SHA256SUMS``: changed, missing and added files, and,
    given ``public_key`` (an Ed25519 public key), the listing's signature.

    Raises :class:`IntegrityError` when there is no readable listing (or it is empty, or a zip holds one
    name twice), and ``FileNotFoundError`` when ``target`` does not exist.
    """
    target = Path(target)
    if not target.exists():
        raise FileNotFoundError(f"{target} does not exist")
    if target.is_file():
        return _verify_zip(target, public_key)
    listing = target / SUMS_NAME
    if not listing.is_file():
        raise IntegrityError(f"no {SUMS_NAME} in {target}: this is not an export folder, or its listing "
                             "was deleted")
    listed_bytes = listing.read_bytes()
    check = _compare(str(target), parse_sums(listed_bytes.decode("utf-8"), str(listing)), compute_sums(target))
    signature = target / SIGNATURE_NAME
    return _check_signature(check, listed_bytes, signature.read_bytes() if signature.is_file() else None,
                            public_key, str(signature))


def _verify_zip(path: Path, public_key=None) -> Verification:
    if not zipfile.is_zipfile(path):
        raise IntegrityError(f"{path} is neither a folder nor a zip file")
    with zipfile.ZipFile(path) as archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        names = [i.filename for i in archive.infolist()]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:  # unzip tools would each pick one of them: what was checked need not be what is read
            raise IntegrityError(f"{path} holds more than one member named {', '.join(repeated)}: a forged or "
                                 "broken zip")
        # The export zips its folder under one top-level directory; accept a flat zip too.
        listings = [i for i in members if PurePosixPath(i.filename).name == SUMS_NAME]
        if len(listings) != 1:
            raise IntegrityError(f"{path} holds {len(listings)} {SUMS_NAME} files; expected exactly one")
        prefix = listings[0].filename[: -len(SUMS_NAME)]
        listed_bytes = archive.read(listings[0])
        listed = parse_sums(listed_bytes.decode("utf-8"), f"{path}:{listings[0].filename}")
        signature = None
        actual = {}
        for info in members:
            if info is listings[0]:
                continue
            name = info.filename[len(prefix):] if info.filename.startswith(prefix) else info.filename
            if name == SIGNATURE_NAME:
                signature = archive.read(info)
                continue
            with archive.open(info) as stream:
                actual[name] = sha256_bytes_of(stream)
    return _check_signature(_compare(str(path), listed, actual), listed_bytes, signature, public_key,
                            f"{path}:{prefix}{SIGNATURE_NAME}")
