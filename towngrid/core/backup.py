"""Backup and restore of a towngrid installation: the database and the uploaded files.

A backup is one ``.tar.gz`` holding ``manifest.json`` (format, time, database engine, applied
migrations, row counts of the main tables), the database (SQLite: a consistent online copy made
with SQLite's backup API; PostgreSQL: ``pg_dump --format=custom``) and ``media/`` (photos and
attachments). Keys are not in it: ``TOWNGRID_SECRET_KEY`` and ``TOWNGRID_PERSONAL_DATA_KEY`` live
in the deployment's secret store, and personal data stays encrypted inside the backup. The
embedded default's generated ``secret_key`` file is included, because without it a development
installation could not read its own encrypted data back.

``verify`` opens an archive and checks it without touching the installation (SQLite:
``PRAGMA integrity_check`` and the row counts; PostgreSQL: ``pg_restore --list``). ``restore``
replaces the database and the media with the archive's, after the same checks; it refuses an
archive of another engine (move between engines with ``dumpdata``/``loaddata``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

FORMAT = "towngrid-backup/1"
DB_SQLITE = "db.sqlite3"
DB_POSTGRES = "db.pgdump"
# Tables whose row counts the manifest keeps, to check a restore against.
COUNTED = [
    "grids_gridnode",
    "accounts_user",
    "cases_case",
    "cases_caseevent",
    "core_auditevent",
]


# What a truncated or corrupt gzip/tar raises while it is read.
_DAMAGED = (OSError, EOFError, zlib.error, tarfile.TarError)


class BackupError(Exception):
    """A refusal with a message for the operator (Chinese first, English after)."""


@dataclass
class Manifest:
    format: str
    created_at: str
    engine: str
    migrations: list[str]
    counts: dict[str, int]
    media_files: int

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise BackupError(f"备份清单不完整：{exc}。The manifest is incomplete.") from None


def engine() -> str:
    return "sqlite" if connection.vendor == "sqlite" else connection.vendor


def _counts() -> dict[str, int]:
    existing = set(connection.introspection.table_names())
    counts = {}
    with connection.cursor() as cursor:
        for table in COUNTED:
            if table in existing:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
                counts[table] = cursor.fetchone()[0]
    return counts


def _migrations() -> list[str]:
    recorder = MigrationRecorder(connection)
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def _pg_env() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    args = ["--dbname", db["NAME"]]
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    if shutil.which(cmd[0]) is None:
        raise BackupError(
            f"找不到 {cmd[0]}：请安装 PostgreSQL 客户端工具。{cmd[0]} is not installed."
        )
    result = subprocess.run(cmd, env=env, capture_output=True)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()[-2000:]
        raise BackupError(f"{cmd[0]} 失败 / failed: {message}")
    return result


def _dump_sqlite(target: Path) -> None:
    connection.ensure_connection()
    source = connection.connection  # the live sqlite3 connection, WAL included
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()


def _media_dir() -> Path:
    return Path(settings.MEDIA_ROOT)


def backup(output: Path, *, progress=None) -> Manifest:
    """Write a backup archive to ``output``; returns its manifest."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    kind = engine()
    if kind not in {"sqlite", "postgresql"}:
        raise BackupError(f"不支持的数据库：{kind}。Unsupported database {kind}.")
    media = _media_dir()
    media_files = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
    manifest = Manifest(
        format=FORMAT,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        engine=kind,
        migrations=_migrations(),
        counts=_counts(),
        media_files=len(media_files),
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        if kind == "sqlite":
            db_file = tmpdir / DB_SQLITE
            _dump_sqlite(db_file)
        else:
            db_file = tmpdir / DB_POSTGRES
            args, env = _pg_env()
            _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(db_file), *args], env)
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest.__dict__, ensure_ascii=False, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(db_file, arcname=db_file.name)
            secret = Path(settings.DATA_DIR) / "secret_key"
            if secret.exists() and not os.environ.get("TOWNGRID_SECRET_KEY"):
                tar.add(secret, arcname="secret_key")
            for i, path in enumerate(media_files, start=1):
                tar.add(path, arcname=f"media/{path.relative_to(media).as_posix()}")
                if progress is not None:
                    progress(i, len(media_files))
        # Only a complete archive takes the name: a crash leaves no half backup behind it.
        partial.replace(output)
    return manifest


@contextmanager
def _open(archive: Path) -> Iterator[tuple[tarfile.TarFile, Manifest]]:
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed below, after the caller
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"无法读取备份文件：{exc}。Not a towngrid backup.") from None
    with tar:
        try:
            member = tar.extractfile("manifest.json")
            manifest = Manifest.from_json(json.loads(member.read()))
        except (*_DAMAGED, KeyError, ValueError, AttributeError) as exc:
            raise BackupError(f"无法读取备份清单：{exc}。Not a towngrid backup.") from None
        if manifest.format != FORMAT:
            raise BackupError(f"备份格式不符：{manifest.format}。Unknown backup format.")
        yield tar, manifest


def _safe_members(tar: tarfile.TarFile, prefix: str) -> list[tarfile.TarInfo]:
    out = []
    for m in tar.getmembers():
        if not m.name.startswith(prefix) or not m.isfile():
            continue
        parts = Path(m.name).parts
        if ".." in parts or Path(m.name).is_absolute():
            raise BackupError(f"备份中有不安全的路径：{m.name}。Unsafe path in the archive.")
        out.append(m)
    return out


def _check_sqlite(path: Path, manifest: Manifest) -> None:
    db = sqlite3.connect(path)
    try:
        (result,) = db.execute("PRAGMA integrity_check").fetchone()
        if result != "ok":
            raise BackupError(f"数据库副本损坏：{result}。The database copy is corrupt.")
        for table, expected in manifest.counts.items():
            (n,) = db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            if n != expected:
                raise BackupError(
                    f"表 {table} 行数 {n} 与清单 {expected} 不符。Row count mismatch in {table}."
                )
    finally:
        db.close()


def verify(archive: Path) -> Manifest:
    """Check an archive without touching the installation; returns its manifest."""
    try:
        return _verify(archive)
    except _DAMAGED as exc:
        raise BackupError(f"备份文件已损坏：{exc}。The archive is damaged.") from None


def _verify(archive: Path) -> Manifest:
    with _open(Path(archive)) as (tar, manifest), tempfile.TemporaryDirectory() as tmp:
        name = DB_SQLITE if manifest.engine == "sqlite" else DB_POSTGRES
        try:
            tar.extract(name, tmp, filter="data")
        except KeyError:
            raise BackupError(f"备份中缺少数据库文件 {name}。The database is missing.") from None
        if manifest.engine == "sqlite":
            _check_sqlite(Path(tmp) / name, manifest)
        else:
            _run(["pg_restore", "--list", str(Path(tmp) / name)], dict(os.environ))
        media = _safe_members(tar, "media/")
        if len(media) != manifest.media_files:
            raise BackupError(
                f"照片等文件数 {len(media)} 与清单 {manifest.media_files} 不符。Media count mismatch."
            )
    return manifest


def restore(archive: Path) -> Manifest:
    """Replace the database and the media with the archive's (after ``verify``)."""
    archive = Path(archive)
    manifest = verify(archive)
    if manifest.engine != engine():
        raise BackupError(
            f"这是 {manifest.engine} 的备份，当前数据库是 {engine()}，不能直接恢复。"
            f"A {manifest.engine} backup cannot be restored into {engine()}."
        )
    with _open(archive) as (tar, _), tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        if manifest.engine == "sqlite":
            tar.extract(DB_SQLITE, tmpdir, filter="data")
            source = sqlite3.connect(tmpdir / DB_SQLITE)
            connection.ensure_connection()
            try:
                # Page by page into the live database: other connections see the old or the new
                # database, never a mixture, and the file keeps its WAL mode.
                source.backup(connection.connection)
            finally:
                source.close()
        else:
            tar.extract(DB_POSTGRES, tmpdir, filter="data")
            connection.close()
            args, env = _pg_env()
            _run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    *args,
                    str(tmpdir / DB_POSTGRES),
                ],
                env,
            )
        media = _media_dir()
        members = _safe_members(tar, "media/")
        staging = media.with_name(media.name + ".restoring")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for m in members:
            target = staging / m.name.removeprefix("media/")
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(m) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        old = media.with_name(media.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if media.exists():
            media.rename(old)
        staging.rename(media)
        shutil.rmtree(old, ignore_errors=True)
    connection.close()
    return manifest
