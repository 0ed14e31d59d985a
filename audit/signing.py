"""Ed25519 signatures on a compliance export's listing of hashes (``SHA256SUMS``), with ``cryptography``.

A ``SHA256SUMS`` alone shows that the files agree with the listing, but anyone who edits a file can
recompute it. The signature (``SHA256SUMS.sig``) is made with a private key only the auditing team holds;
``audit verify-export --public-key`` checks it with the matching public key. A valid signature proves that
whoever holds the private key produced (or approved) exactly this listing, and, since the listing holds
every file's SHA-256, that no file changed since. It does not prove the findings are right, nor who ran
the tool if the private key was copied.

Keys: ``audit keys create DIR`` writes ``export-signing.key`` (PKCS#8 PEM, mode 0600; encrypted with the
passphrase in ``SALES_AUDIT_KEY_PASSPHRASE`` when that is set) and ``export-signing.pub`` (PEM, to hand
to whoever verifies). A private key readable by others is refused, as ``ssh`` does.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_KEY_NAME = "export-signing.key"
PUBLIC_KEY_NAME = "export-signing.pub"
PASSPHRASE_VARIABLE = "SALES_AUDIT_KEY_PASSPHRASE"
SIGNATURE_FORMAT = "sales-audit export signature 1"
# Signed bytes are this context followed by the listing: a signature made for anything else never fits.
_CONTEXT = b"sales-audit SHA256SUMS v1\n"


class SigningError(ValueError):
    """A key or a signature file cannot be used; the message says why and what to do."""


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """``SHA256:<base64>`` of the raw public key, the form ``ssh-keygen -l`` prints."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_VARIABLE)
    return value.encode() if value else None


def _inside_git(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    fingerprint: str
    encrypted: bool
    git_repository: Path | None  # set when the key was written inside a git working tree (a warning)


def create_keys(folder: str | Path) -> KeyPair:
    """A new Ed25519 key pair in ``folder`` (made with mode 0700 if new); existing keys are never replaced."""
    folder = Path(folder).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise SigningError(f"{folder} is a file: pass a folder for the keys")
    private_path, public_path = folder / PRIVATE_KEY_NAME, folder / PUBLIC_KEY_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise SigningError(f"{path} already exists: a key is never overwritten (exports signed with it "
                               "could no longer be checked); pass another folder")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    passphrase = _passphrase()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    # O_EXCL: never follows or replaces something made meanwhile; 0600 from the first byte.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(pem)
    os.chmod(private_path, 0o600)  # whatever the umask
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return KeyPair(private_path, public_path, fingerprint(key.public_key()), passphrase is not None,
                   _inside_git(folder))


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The signing key in ``path``; refused when others can read it, when it is not Ed25519, or when its
    passphrase (``SALES_AUDIT_KEY_PASSPHRASE``) is missing or wrong."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise SigningError(f"no signing key at {path}: make one with `audit keys create DIR`")
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise SigningError(f"the signing key {path} can be read by others (mode {mode:04o}): anyone who can "
                           f"read it can sign exports in your name. Run `chmod 600 {path}` and keep it outside "
                           "run folders and git")
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=_passphrase())
    except TypeError as exc:
        needs = "is encrypted: set SALES_AUDIT_KEY_PASSPHRASE" if b"ENCRYPTED" in data else \
            "is not encrypted: unset SALES_AUDIT_KEY_PASSPHRASE"
        raise SigningError(f"the signing key {path} {needs}") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningError(f"{path} is not a readable private key (or the passphrase in "
                           f"SALES_AUDIT_KEY_PASSPHRASE is wrong): {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path} holds a {type(key).__name__}, not an Ed25519 key: make one with "
                           "`audit keys create DIR`")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    path = Path(path).expanduser()
    if not path.is_file():
        raise SigningError(f"no public key at {path}: pass the export-signing.pub made with the signing key")
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningError(f"{path} is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def sign_listing(listing: bytes, key: Ed25519PrivateKey) -> str:
    """The text of ``SHA256SUMS.sig`` for the listing's exact bytes."""
    signature = key.sign(_CONTEXT + listing)
    return (f"{SIGNATURE_FORMAT}\nalgorithm: Ed25519\nkey: {fingerprint(key.public_key())}\n"
            f"signature: {base64.b64encode(signature).decode()}\n")


def _fields(text: str, origin: str) -> dict[str, str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != SIGNATURE_FORMAT:
        raise SigningError(f"{origin} is not a sales-audit signature file")
    fields = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    if fields.get("algorithm") != "Ed25519" or "signature" not in fields:
        raise SigningError(f"{origin} names no Ed25519 signature")
    return fields


def signer(text: str, origin: str) -> str:
    """The fingerprint a signature file says it was made with (not checked: anyone can write it)."""
    return _fields(text, origin).get("key", "unknown key")


def check_signature(listing: bytes, text: str, public_key: Ed25519PublicKey, origin: str) -> str | None:
    """None when ``text`` is a valid signature of ``listing`` by ``public_key``, else what is wrong."""
    try:
        fields = _fields(text, origin)
        signature = base64.b64decode(fields["signature"], validate=True)
    except (SigningError, ValueError) as exc:
        return f"signature unreadable: {exc}"
    expected = fingerprint(public_key)
    try:
        public_key.verify(signature, _CONTEXT + listing)
    except InvalidSignature:
        claimed = fields.get("key", "")
        if claimed and claimed != expected:
            return (f"signature made with another key ({claimed}), not the public key given ({expected})")
        return "signature does not match SHA256SUMS: the listing was changed after it was signed"
    return None
