"""Backup and restore: a PostgreSQL custom-format dump (pg_dump / pg_restore) plus the media store, with a
manifest of SHA-256 digests so a damaged or incomplete backup is refused before anything is restored.

The encrypted columns (legal names, ID numbers, webhook secrets, token signing keys) are useless without
the environment's keys: PII_ENCRYPTION_KEYS, PII_INDEX_KEY, DJANGO_SECRET_KEY, PLATFORM_SIGNING_KEY and
ARTIFACT_SIGNING_CERT / ARTIFACT_SIGNING_KEY must be kept with every backup, apart from it (README).
"""

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

DUMP = "database.dump"
MEDIA = "media.tar.gz"
MANIFEST = "manifest.json"
SECRETS_TO_KEEP = [
    "PII_ENCRYPTION_KEYS",
    "PII_INDEX_KEY",
    "DJANGO_SECRET_KEY",
    "PLATFORM_SIGNING_KEY",
    "ARTIFACT_SIGNING_CERT",
    "ARTIFACT_SIGNING_KEY",
]


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why."""


def _libpq_env() -> dict:
    """The connection of the default database for pg_dump / pg_restore, passed in the environment (never
    on the command line, where other users of the machine could read the password)."""
    if connection.vendor != "postgresql":
        raise BackupError("Backups need PostgreSQL (DATABASE_URL=postgres://…); this database is " + connection.vendor)
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        {
            "PGHOST": str(db.get("HOST") or ""),
            "PGPORT": str(db.get("PORT") or ""),
            "PGUSER": str(db.get("USER") or ""),
            "PGDATABASE": str(db["NAME"]),
        }
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _media_root() -> Path:
    if settings.STORAGES["default"]["BACKEND"] != "django.core.files.storage.FileSystemStorage":
        raise BackupError(
            "The media store is object storage: back the bucket up with its own versioning or replication, "
            "and pass --skip-media here."
        )
    return Path(settings.MEDIA_ROOT)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run(command: list[str], env: dict) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def backup_dump(*, out: Path, media: bool = True) -> dict:
    """Write database.dump (+ media.tar.gz) and manifest.json into the empty or new folder `out`."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty; a backup goes into a new folder")
    env = _libpq_env()
    root = _media_root() if media else None
    out.mkdir(parents=True, exist_ok=True)
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={out / DUMP}"], env)
    files = {DUMP: _sha256(out / DUMP)}
    if root is not None:
        with tarfile.open(out / MEDIA, "w:gz") as archive:
            if root.exists():
                archive.add(root, arcname="media")
        files[MEDIA] = _sha256(out / MEDIA)
    manifest = {
        "created_at": timezone.now().isoformat(),
        "database": settings.DATABASES["default"]["NAME"],
        "files": files,
        "secrets_to_keep_with_this_backup": SECRETS_TO_KEEP,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _check_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source / MANIFEST} is missing or unreadable: {exc}") from exc
    for name, expected in manifest["files"].items():
        path = source / name
        if not path.exists():
            raise BackupError(f"{name} is missing from the backup")
        if _sha256(path) != expected:
            raise BackupError(f"{name} does not match its SHA-256 in the manifest: the backup is damaged")
    return manifest


def backup_restore(*, source: Path) -> dict:
    """Restore a backup into the (fresh, empty) default database and the (empty) media folder."""
    source = Path(source)
    manifest = _check_manifest(source)
    env = _libpq_env()
    if "django_migrations" in connection.introspection.table_names():
        raise BackupError(
            f"the database {settings.DATABASES['default']['NAME']} is not empty: restore into a fresh database"
        )
    root = _media_root() if MEDIA in manifest["files"] else None
    if root is not None and root.exists() and any(root.iterdir()):
        raise BackupError(f"the media folder {root} is not empty: restore into an empty one")
    connection.close()  # pg_restore works on its own connection; ours must not hold the database open
    _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={env['PGDATABASE']}",
          str(source / DUMP)], env)  # fmt: skip
    if root is not None:
        staging = root.parent / f".restore-{root.name}"
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(source / MEDIA, "r:gz") as archive:
            archive.extractall(staging, filter="data")  # "data": no absolute paths, links out or devices
        root.mkdir(parents=True, exist_ok=True)
        extracted = staging / "media"
        if extracted.exists():
            for entry in extracted.iterdir():
                shutil.move(str(entry), root / entry.name)
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
