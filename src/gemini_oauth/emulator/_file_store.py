"""The Files API's storage: files and resumable uploads, their bytes in a private temp dir, the
limits (one file, one project's total), and time (PROCESSING -> ACTIVE, 48-hour expiry).

Bytes never live in memory beyond one read buffer, and never reach the state file (``--state``):
a restarted emulator has no files, as if 48 hours had passed. Callers hold ``EmulatorState.lock``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gemini_oauth.emulator._records import StoredFile, Upload, random_token

#: Google's limits: 2 GB a file, 20 GB a project (uploaded files; registered ones are not counted).
MAX_FILE_BYTES = 2 * 1024**3
PROJECT_BYTES = 20 * 1024**3
FILE_LIFETIME = 48 * 3600
REGISTERED_LIFETIME = 30 * 24 * 3600
UPLOAD_LIFETIME = 7 * 24 * 3600
#: Seconds of the emulator's clock a file stays PROCESSING, by the start of its MIME type.
PROCESSING_SECONDS = {"video/": 10.0, "audio/": 5.0}
READ_BUFFER = 256 * 1024
_ID_ALPHABET = string.ascii_lowercase + string.digits


def file_id() -> str:
    """A file id as Google makes them: 12 lowercase letters and digits."""
    raw = hashlib.sha256(os.urandom(16)).digest()
    return "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in raw[:12])


def sha256_field(hex_digest: str) -> str:
    """``sha256Hash`` as Google writes it: the hex digest's text, base64-encoded (a bytes field)."""
    return base64.b64encode(hex_digest.encode()).decode()


class FileStore:
    """Files and upload sessions of every project; the bytes in one temp dir of its own."""

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self.uploads: dict[str, Upload] = {}
        self.max_file_bytes = MAX_FILE_BYTES
        self.project_bytes = PROJECT_BYTES
        self.processing_seconds: float | None = None  # None: by MIME type
        self._dir: Path | None = None

    @property
    def directory(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="gemini-oauth-emulator-files-"))  # 0700
        return self._dir

    def clear(self) -> None:
        """Forget every file and upload and delete their bytes."""
        self.files.clear()
        self.uploads.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # -- time ---------------------------------------------------------------------------------

    def sweep(self, now: float) -> None:
        """Delete expired files (and stale upload sessions) with their bytes."""
        for stored in [f for f in self.files.values() if f.expires_at <= now]:
            self.delete(stored.id)
        for upload in [u for u in self.uploads.values() if u.created_at + UPLOAD_LIFETIME <= now]:
            self.cancel(upload)

    def cancel(self, upload: Upload) -> None:
        """Forget an upload session and its partial bytes."""
        self.uploads.pop(upload.id, None)
        if not upload.done:
            Path(upload.path).unlink(missing_ok=True)

    def processing_time(self, mime_type: str) -> float:
        if self.processing_seconds is not None:
            return self.processing_seconds
        return next((s for p, s in PROCESSING_SECONDS.items() if mime_type.startswith(p)), 0.0)

    # -- usage --------------------------------------------------------------------------------

    def used_bytes(self, project_id: str) -> int:
        """Bytes the project holds: uploaded files and the declared size of open uploads."""
        files = sum(f.size for f in self.files.values() if f.project_id == project_id and f.path)
        open_uploads = sum(
            u.size for u in self.uploads.values() if u.project_id == project_id and not u.done
        )
        return files + open_uploads

    # -- uploads ------------------------------------------------------------------------------

    def start_upload(
        self,
        project_id: str,
        wanted_id: str,
        display_name: str,
        mime_type: str,
        size: int,
        now: float,
    ) -> Upload:
        upload_id = random_token("emu-upload-", 24)
        path = self.directory / f"{upload_id}.part"
        path.touch(mode=0o600)
        upload = Upload(
            upload_id,
            project_id,
            wanted_id or file_id(),
            display_name,
            mime_type,
            size,
            str(path),
            now,
            hasher=hashlib.sha256(),
        )
        self.uploads[upload_id] = upload
        return upload

    def append(self, upload: Upload, pieces: Iterator[bytes]) -> int:
        """Write ``pieces`` at the end of the upload, counting each one as it lands; the bytes
        written. Whatever arrived before a connection broke stays: a resume continues from it.
        """
        before = upload.received
        with open(upload.path, "ab") as out:
            try:
                for piece in pieces:
                    out.write(piece)
                    upload.hasher.update(piece)
                    upload.received += len(piece)
            finally:
                out.flush()
        return upload.received - before

    def finish(self, upload: Upload, now: float) -> StoredFile:
        """The file an upload becomes once all its bytes are in."""
        final = self.directory / f"{upload.file_id}.bin"
        os.replace(upload.path, final)
        upload.done = True  # kept: a query after a lost answer to finalize still finds the file
        stored = StoredFile(
            upload.file_id,
            upload.project_id,
            upload.display_name,
            upload.mime_type,
            upload.received,
            upload.hasher.hexdigest(),
            now,
            now + FILE_LIFETIME,
            now + self.processing_time(upload.mime_type),
            path=str(final),
        )
        self.files[stored.id] = stored
        return stored

    # -- files --------------------------------------------------------------------------------

    def register(
        self, project_id: str, gcs_uri: str, mime_type: str, size: int, sha256: str, now: float
    ) -> StoredFile:
        stored = StoredFile(
            file_id(),
            project_id,
            "",
            mime_type,
            size,
            sha256,
            now,
            now + REGISTERED_LIFETIME,
            now,
            source="REGISTERED",
            gcs_uri=gcs_uri,
        )
        self.files[stored.id] = stored
        return stored

    def find(self, project_id: str, wanted: str, now: float) -> StoredFile | None:
        """A live file of this project, by id (``abc``), name (``files/abc``) or URI."""
        self.sweep(now)
        ident = wanted.rsplit("/files/", 1)[-1] if "/files/" in wanted else wanted
        stored = self.files.get(ident.removeprefix("files/"))
        return stored if stored is not None and stored.project_id == project_id else None

    def of_project(self, project_id: str, now: float) -> list[StoredFile]:
        """The project's live files, newest first (as Google lists them)."""
        self.sweep(now)
        found = [f for f in self.files.values() if f.project_id == project_id]
        return sorted(found, key=lambda f: (-f.created_at, f.id))

    def delete(self, ident: str) -> None:
        stored = self.files.pop(ident, None)
        if stored is not None and stored.path:
            Path(stored.path).unlink(missing_ok=True)

    def content_hash(self, stored: StoredFile) -> str:
        return stored.sha256
