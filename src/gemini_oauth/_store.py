"""The token cache: paths, atomic 0600 writes, a cross-process lock, profiles, bad-file set-aside.

A cache file is a google-auth ``authorized_user`` file plus cache fields (see ARCHITECTURE.md).
When a grant dies, the record is written again without its tokens (``without_tokens``): the
settings a new login needs (client, scopes, quota project, account) stay, with ``login_needed``
saying why. Reads take no lock (writes are atomic renames); writers and refreshers hold ``lock()``.
Trust is by ownership (``_paths``): every folder and file must belong to this user; the modes of
what the tool made are repaired, a home the user named is never chmod-ed, anything else is refused.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shlex
import stat
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeGuard

from gemini_oauth._cache_format import is_cache_data
from gemini_oauth._constants import HOME_ENV, MAX_JSON_FILE, REFRESH_MARGIN
from gemini_oauth._paths import (
    CHOSEN_PROFILE_FILE,
    home_given,
    others_may_replace_entries,
    owned_by_me,
    platform_config_dir,
    private,
    valid_profile_name,
)
from gemini_oauth._paths import chosen_profile as _chosen_profile
from gemini_oauth._paths import config_home as _config_home
from gemini_oauth.errors import CacheError

__all__ = [
    "REFRESH_MARGIN",
    "TOKEN_FIELDS",
    "TokenFile",
    "choose_profile",
    "chosen_profile",
    "config_home",
    "default_profile",
    "has_grant",
    "home_file",
    "is_cache_data",
    "list_profiles",
    "profile_file",
    "validate_profile_name",
    "without_tokens",
]

log = logging.getLogger(__name__)
_POSIX = os.name != "nt"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: What a record loses when its grant dies; everything else is the login's set-up.
TOKEN_FIELDS = (
    "refresh_token",
    "token",
    "expiry",
    "refresh_token_issued",
    "rapt_token",
    "id_token",
)


def without_tokens(data: Mapping[str, Any], reason: str, since: str) -> dict[str, Any]:
    """The record with its tokens gone and its set-up kept, marked ``login_needed`` (why) and
    ``login_needed_since`` (RFC 3339): what a dead grant leaves, whatever the backend."""
    kept = {k: v for k, v in data.items() if k not in TOKEN_FIELDS}
    return {**kept, "login_needed": reason, "login_needed_since": since}


def has_grant(data: Mapping[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """The record holds a refresh token (else it is a set-up waiting for a login)."""
    return bool(data and isinstance(data.get("refresh_token"), str) and data["refresh_token"])


def config_home() -> Path:
    """$GEMINI_OAUTH_HOME, else platformdirs' ``user_config_dir("gemini-oauth")``."""
    return Path(_config_home())


def validate_profile_name(name: str) -> str:
    """Return ``name`` if it is a safe profile name, else raise CacheError."""
    if not valid_profile_name(name):
        raise CacheError(
            f"Invalid profile name {name!r}.",
            hint="Use 1-64 letters, digits, '.', '_' or '-', not starting with '.'.",
        )
    return name


class _PathLock:
    """A reentrant lock for one path: a threading lock, then (outermost only) a file lock."""

    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.file_lock: Any = None
        #: A copy of a parent's lock in a forked child: held by the parent, never by the child.
        self.inherited = False

    @contextlib.contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        if not self.thread_lock.acquire(timeout=timeout):
            raise _lock_timeout(self.lock_path)
        try:
            if self.depth == 0:
                from filelock import FileLock, Timeout

                file_lock = FileLock(str(self.lock_path), mode=0o600, thread_local=False)
                try:
                    file_lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
                except Timeout:
                    raise _lock_timeout(self.lock_path) from None
                self.file_lock = file_lock
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0 and not self.inherited:
                    self.file_lock.release()
                    self.file_lock = None
        finally:
            self.thread_lock.release()


def _lock_timeout(path: Path) -> CacheError:
    return CacheError(
        f"Timed out waiting for the cache lock {path}.",
        hint="Another gemini-oauth process holds it; wait for it to finish, then try again.",
    )


_LOCKS: dict[str, _PathLock] = {}
_LOCKS_GUARD = threading.Lock()
_FORK_HOOKED = False


def _forget_locks_after_fork() -> None:
    """Have a forked child start with no lock of its parent's (registered on first use).

    The child's thread has the id of the one that forked, so a lock its parent held would pass
    for the child's own (reentrant, without the file lock). In the child the copies are marked
    inherited (never released there: the parent holds them) and the registry is new.
    """
    global _FORK_HOOKED
    if not _FORK_HOOKED and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _FORK_HOOKED = True


def _after_fork_in_child() -> None:
    global _LOCKS, _LOCKS_GUARD
    for lock in _LOCKS.values():
        lock.inherited = True
    _LOCKS, _LOCKS_GUARD = {}, threading.Lock()


class TokenFile:
    """One cache file and its lock.

    ``given_dirs`` (a home the user named) must be this user's and not open to others' renames;
    they are never chmod-ed. ``private_dirs`` are created 0700 and kept that way. A
    ``_cache_backend.CacheRecord``: the default backend.
    """

    backend = "file"
    tokens_only = False
    volatile = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        private_dirs: tuple[Path, ...] = (),
        given_dirs: tuple[Path, ...] = (),
    ) -> None:
        self.path = Path(path).absolute()
        # hidden beside the file (load_creds' token.json sits in the user's working directory)
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")
        self.private_dirs = private_dirs
        self.given_dirs = given_dirs

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"

    @property
    def location(self) -> str:
        """Where the record is, for messages: the file's path."""
        return str(self.path)

    # -- reading -------------------------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        """The cached data, or None if absent; a corrupt or wrong-shaped file is set aside."""
        raw = self._read_bytes()
        if raw is None:
            return None
        data = _parse(raw)
        if data is not None:
            return data
        with self.lock():
            again = self._read_bytes()
            if again is None:
                return None
            if _parse(again) is None and again == raw:
                self._set_aside()
                return None
        return self.read()

    def read_bytes(self) -> bytes | None:
        """The file's bytes (None if absent) after the trust checks, unparsed; for other shapes."""
        return self._read_bytes()

    def _read_bytes(self) -> bytes | None:
        self._check_dirs()
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if self.path.is_symlink():
                raise self._symlink_error() from None
            raise CacheError(f"Cannot read the token cache {self.path}: {exc.strerror}.") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise CacheError(f"The token cache {self.path} is not a regular file.")
            if not owned_by_me(st):
                raise CacheError(
                    f"The token cache {self.path} belongs to another user (uid {st.st_uid}); "
                    "refusing to use it.",
                    hint=f"Delete {self.path} (as root or its owner), then run 'gemini-oauth "
                    "login'.",
                )
            if not private(st):
                self._make_private(fd, st)
            raw = os.read(fd, MAX_JSON_FILE + 1)  # larger: no cache file; set aside as corrupt
            while len(raw) <= MAX_JSON_FILE and (chunk := os.read(fd, 1 << 16)):
                raw += chunk
            return raw
        finally:
            os.close(fd)

    def _make_private(self, fd: int, st: os.stat_result) -> None:
        try:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~0o077)
        except OSError:
            raise CacheError(
                f"The token cache {self.path} is readable by others and cannot be made "
                "private; refusing to use it.",
                hint=f"Run 'chmod 600 {self.path}' as its owner, or delete it and log in.",
            ) from None
        log.warning(
            "The token cache %s was readable by others (mode %o); changed it to 0600.",
            self.path,
            stat.S_IMODE(st.st_mode),
        )

    def _symlink_error(self) -> CacheError:
        return CacheError(
            f"The token cache {self.path} is a symbolic link; refusing to use it.",
            hint=f"Remove the link ({self.path}) and run 'gemini-oauth login'.",
        )

    def _check_dirs(self, create: bool = False) -> None:
        """Each folder must be this user's real folder; repair the modes of ours, refuse the rest.

        A sticky bit is never removed (only group and other permissions are).
        """
        try:
            for folder in (*self.given_dirs, *self.private_dirs):
                ours = folder not in self.given_dirs
                if create:
                    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                try:
                    st = folder.lstat()
                except FileNotFoundError:
                    continue
                _check_folder(folder, st, ours=ours)
                if ours and not private(st):
                    os.chmod(folder, stat.S_IMODE(st.st_mode) & ~0o077)
                    log.warning(
                        "The cache directory %s was open to others (mode %o); changed it to 0700.",
                        folder,
                        stat.S_IMODE(st.st_mode),
                    )
            if create:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:  # e.g. the home is under a plain file, or not writable
            raise CacheError(
                f"Cannot use the cache folder {self.path.parent}: {exc.strerror}.",
                hint=f"Point {HOME_ENV} at a folder you can write to.",
            ) from None

    def _set_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{secrets.token_hex(2)}")
        try:
            os.replace(self.path, target)
            if _POSIX:
                os.chmod(target, 0o600)
        except OSError as exc:
            raise CacheError(
                f"The token cache {self.path} is corrupt, and moving it aside failed "
                f"({exc.strerror}).",
                hint=f"Delete {self.path} and run 'gemini-oauth login'.",
            ) from None
        log.warning(
            "The token cache %s was corrupt or not a credentials file; moved it to %s. "
            "Run 'gemini-oauth login' to sign in again.",
            self.path,
            target.name,
        )
        return target

    # -- writing -------------------------------------------------------------------------------

    def write(self, data: Mapping[str, Any]) -> None:
        """Write atomically: 0600 temp file in the same folder, fsync, rename, fsync the folder."""
        self.write_text(json.dumps(dict(data), indent=2) + "\n")

    def write_text(self, text: str) -> None:
        """Write exactly ``text`` (UTF-8), with the same atomicity and modes as ``write``."""
        self._check_dirs(create=True)
        if self.path.is_symlink():
            raise self._symlink_error()
        payload = text.encode()
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(tmp, flags, 0o600)
            try:
                if _POSIX:
                    os.fchmod(fd, 0o600)
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise CacheError(f"Cannot write the token cache {self.path}: {exc.strerror}.") from None
        _fsync_dir(self.path.parent)

    def delete(self) -> bool:
        """Remove the cache file; True if there was one."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return False
        _fsync_dir(self.path.parent)
        return True

    def lock(self, timeout: float = 120.0) -> contextlib.AbstractContextManager[None]:
        """Hold the cache lock: threads of this process and other processes wait in turn."""
        self._check_dirs(create=True)
        _forget_locks_after_fork()
        with _LOCKS_GUARD:
            path_lock = _LOCKS.setdefault(str(self.lock_path), _PathLock(self.lock_path))
        return path_lock.hold(timeout)


def _parse(raw: bytes) -> dict[str, Any] | None:
    if len(raw) > MAX_JSON_FILE:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if is_cache_data(data) else None


def _check_folder(folder: Path, st: os.stat_result, *, ours: bool) -> None:
    """Refuse a cache folder that is a link, not a folder, another user's, or (a home the user
    named) open to others' renames."""
    if stat.S_ISLNK(st.st_mode):
        raise CacheError(
            f"The cache directory {folder} is a symbolic link; refusing to use it.",
            hint=f"Remove the link ({folder}) or point {HOME_ENV} at a real folder.",
        )
    if not stat.S_ISDIR(st.st_mode):
        raise CacheError(
            f"The cache directory {folder} is not a folder.",
            hint=f"Move {folder} away, or point {HOME_ENV} at a folder.",
        )
    own = f"e.g. {HOME_ENV}={platform_config_dir()}"
    if not owned_by_me(st):
        raise CacheError(
            f"The cache directory {folder} belongs to another user (uid {st.st_uid}), who could "
            "read or replace what is cached there; refusing to use it.",
            hint=f"Point {HOME_ENV} at a folder of your own ({own}), or remove {folder}."
            if not ours
            else f"Remove {folder} (as root or its owner), then run 'gemini-oauth login'.",
        )
    if not ours and others_may_replace_entries(st):
        raise CacheError(
            f"The cache home {folder} may be written by others and has no sticky bit, so they "
            "could replace what is cached there; refusing to use it.",
            hint=f"Point {HOME_ENV} at a folder of your own ({own}), or run 'chmod go-w {folder}'.",
        )


def _fsync_dir(folder: Path) -> None:
    if not _POSIX:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def home_file(folder: str, name: str, home: str | os.PathLike[str] | None = None) -> TokenFile:
    """A file of the cache home: ``<home>/<folder>/<name>``, with the home's trust rules.

    A home the user named (``home`` or $GEMINI_OAUTH_HOME) is never chmod-ed; the default one is
    the tool's own and kept 0700, like ``<folder>``.
    """
    given = home is not None or home_given()
    root = (Path(home) if home is not None else config_home()).absolute()
    inner = root / folder
    if given:
        return TokenFile(inner / name, given_dirs=(root,), private_dirs=(inner,))
    return TokenFile(inner / name, private_dirs=(root, inner))


def profile_file(name: str = "default", home: str | os.PathLike[str] | None = None) -> TokenFile:
    """The cache of a named profile: ``<home>/profiles/<name>.json``."""
    validate_profile_name(name)
    return home_file("profiles", f"{name}.json", home)


def list_profiles(home: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the profiles that have a cache file, sorted."""
    folder = (Path(home) if home is not None else config_home()) / "profiles"
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(n[:-5] for n in names if n.endswith(".json") and valid_profile_name(n[:-5]))


def chosen_profile(home: str | os.PathLike[str] | None = None) -> str | None:
    """The profile used when none is named: $GEMINI_OAUTH_PROFILE, else the choice of
    ``gemini-oauth profiles use``; None when neither names one. A choice that cannot be trusted
    is a CacheError, never silently another profile."""
    folder = (Path(home) if home is not None else config_home()) / "profiles"
    try:
        return _chosen_profile(str(folder))
    except ValueError as exc:
        raise CacheError(
            f"The default profile chosen in {folder / CHOSEN_PROFILE_FILE} cannot be used: {exc}.",
            hint=f"Remove it (rm {shlex.quote(str(folder / CHOSEN_PROFILE_FILE))}), then choose "
            "again with 'gemini-oauth profiles use NAME'.",
        ) from None


def default_profile(home: str | os.PathLike[str] | None = None) -> str:
    """The profile commands use without --profile: ``chosen_profile()``, else 'default'."""
    return chosen_profile(home) or "default"


def choose_profile(name: str, home: str | os.PathLike[str] | None = None) -> Path:
    """Make ``name`` the default profile (``profiles use``); 'default' removes the choice."""
    validate_profile_name(name)
    file = home_file("profiles", CHOSEN_PROFILE_FILE, home)
    try:
        if name == "default":
            file.delete()
        else:
            file.write_text(name + "\n")
    except CacheError as exc:
        if str(file.path) not in exc.message:  # a folder's problem: its own hint stands
            raise
        exc.hint = (  # a planted link or a foreign file here: not a login to redo
            f"Remove it (rm {shlex.quote(str(file.path))}), then run "
            f"'gemini-oauth profiles use {name}' again."
        )
        raise
    return file.path
