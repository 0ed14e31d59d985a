"""Where a run's outputs go, written so that a reader only ever sees a whole run.

A run is written into a hidden scratch folder beside ``--out`` (``.<name>.partial-<pid>-<random>``) and
swapped in at the end: on Linux in one ``renameat2(RENAME_EXCHANGE)``, so a kill, a full disk or a crash
at any moment leaves either the whole previous run or the whole new one. The folder is checked before the
audit starts (:func:`check_output_folder`): a file, a read-only place, or a folder holding files that are
not a run's is refused with a message rather than found out after the detectors ran.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

# What the built-in writers (and `audit evaluate`) put into a run folder: a folder holding only these
# is a run and may be replaced; anything else in it is somebody's and is not deleted.
RUN_ENTRIES = frozenset({"exceptions.csv", "exceptions.parquet", "data_quality.csv", "detectors.csv",
                         "resolved.csv", "manifest.json", "report.html", "report.xlsx", "export", "export.zip",
                         "views", "evaluation.json"})
_PARTIAL = ".partial-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class OutputError(OSError):
    """The output folder cannot be used or written; nothing in it was changed."""


def _is_run_folder(folder: Path) -> tuple[bool, list[str]]:
    entries = sorted(p.name for p in folder.iterdir())
    foreign = [name for name in entries if name not in RUN_ENTRIES]
    if not foreign:
        return True, []
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False, foreign
    return isinstance(manifest, dict) and manifest.get("tool") == "sales-audit", foreign


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def check_output_folder(out: str | Path) -> Path:
    """Refuse an ``out`` the run could not replace, before any work is done; returns it resolved.

    Refused: a path naming a file; a folder (or the place it would be made in) that cannot be written;
    a folder holding files that are not a sales-audit run's (they would be lost in the swap).
    """
    out = Path(out).expanduser().absolute()
    if out.is_symlink():  # a link such as runs/current: the folder it points to is the run replaced
        out = out.resolve()
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder: pass a folder for the run's outputs "
                          "(it is made if it does not exist)")
    if out.is_dir():
        replaceable, foreign = _is_run_folder(out)
        if not replaceable:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise OutputError(f"--out {out} holds files that are not a sales-audit run's ({shown}); a run "
                              "replaces its whole folder, so pass a new or empty folder, or an earlier run's")
        if not os.access(out, os.W_OK | os.X_OK):
            raise OutputError(f"--out {out} is read-only: the previous run in it cannot be replaced; pass a "
                              "folder you can write to")
    parent = _existing_ancestor(out.parent)
    if not parent.is_dir():
        raise OutputError(f"--out {out} cannot be made: {parent} is a file, not a folder")
    try:  # the one real test of writability (read-only mounts, ACLs, quotas): make and remove a folder
        probe = tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=parent)
        os.rmdir(probe)
    except OSError as exc:
        raise OutputError(f"--out {out} cannot be written: {parent} is not writable ({exc.strerror or exc}); "
                          "pass a folder you can write to") from exc
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_partials(out: Path) -> None:
    """Scratch folders of runs that were killed (their process is gone) are removed."""
    prefix = f".{out.name}{_PARTIAL}"
    for entry in out.parent.iterdir():
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    # Written data reaches the disk before the swap: after a power cut the new run is whole or absent.
    for path in sorted(folder.rglob("*"), reverse=True):
        flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
        fd = os.open(path, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False when not available here."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_in(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``, replacing what was there (removed afterwards)."""
    if not target.exists():
        os.rename(new, target)
    elif _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old run
    else:
        # No atomic exchange (not Linux, or the file system lacks it): two renames; a crash between them
        # leaves the old run whole in the hidden ``.<name>.old-*`` folder beside ``target``.
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(old)
        os.rename(target, old)
        try:
            os.rename(new, target)
        except OSError:
            os.rename(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(target.parent)


def _folder_mode(out: Path) -> int:
    if out.is_dir():
        return out.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def write_atomically(out: str | Path, write) -> list[Path]:
    """Call ``write(scratch_folder) -> [paths]`` and swap the scratch folder in as ``out``.

    On any error (a full disk, a writer's bug, Ctrl-C) the scratch folder is removed and ``out`` is left
    as it was; an ``OSError`` becomes :class:`OutputError` saying so. Returns the paths under ``out``.
    """
    out = check_output_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(out)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}{_PARTIAL}{os.getpid()}-", dir=out.parent))
    try:
        os.chmod(scratch, _folder_mode(out))  # mkdtemp's 0700 would hide the run from colleagues
        written = write(scratch)
        _fsync_tree(scratch)
        swap_in(scratch, out)
    except OSError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"could not write the outputs to {out}: {exc.strerror or exc}; the folder was left "
                          "as it was (no part of this run is in it)") from exc
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return [out / Path(p).relative_to(scratch) for p in written]


def write_beside(folder: str | Path, write) -> list[Path]:
    """Call ``write(scratch) -> [paths]`` and move what it made into ``folder`` one entry at a time, each
    replacing its namesake whole (a file by rename, a folder by :func:`swap_in`); other entries stay."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".sales-audit-", dir=folder))
    try:
        written = write(scratch)
        _fsync_tree(scratch)
        for entry in sorted(scratch.iterdir()):
            if entry.is_dir():
                swap_in(entry, folder / entry.name)
            else:
                os.replace(entry, folder / entry.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [folder / Path(p).relative_to(scratch) for p in written]
