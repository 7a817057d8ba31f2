"""Backup and restore: a round trip brings back the database and the media exactly; a damaged,
tampered or foreign archive is refused before anything is touched. Runs on SQLite and on
PostgreSQL (pg_dump / pg_restore)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command

from towngrid.core.backup import BackupError, backup, restore, verify
from towngrid.core.models import Setting

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    (settings.MEDIA_ROOT / "cases" / "2023").mkdir(parents=True)
    (settings.MEDIA_ROOT / "cases" / "2023" / "a.jpg").write_bytes(b"photo-a")
    return settings.MEDIA_ROOT


def test_round_trip_restores_the_database_and_the_media(media, tmp_path, user_factory):
    user_factory(username="kept")
    Setting.objects.create(key="backup.test", value={"v": 1})
    from towngrid.accounts.models import User

    users_then = sorted(User.objects.values_list("username", flat=True))
    archive = tmp_path / "b.tar.gz"
    manifest = backup(archive)
    assert manifest.counts["accounts_user"] == len(users_then)
    assert manifest.media_files == 1
    assert verify(archive).counts == manifest.counts

    # Life goes on after the backup …
    user_factory(username="added-later")
    Setting.objects.filter(key="backup.test").delete()
    (media / "cases" / "2023" / "a.jpg").write_bytes(b"overwritten")
    (media / "later.jpg").write_bytes(b"later")

    restore(archive)
    assert sorted(User.objects.values_list("username", flat=True)) == users_then
    assert "kept" in users_then
    assert Setting.objects.get(key="backup.test").value == {"v": 1}
    assert (media / "cases" / "2023" / "a.jpg").read_bytes() == b"photo-a"
    assert not (media / "later.jpg").exists()


def _rewrite(archive: Path, out: Path, *, manifest=None, extra: dict | None = None) -> Path:
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else b""
            if m.name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def test_damaged_tampered_and_foreign_archives_are_refused(media, tmp_path, user_factory):
    user_factory(username="kept")
    archive = tmp_path / "b.tar.gz"
    backup(archive)

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(BackupError):
        verify(truncated)

    with pytest.raises(BackupError, match="文件数"):
        verify(_rewrite(archive, tmp_path / "media.tar.gz", extra={"media/x.jpg": b"x"}))

    with pytest.raises(BackupError, match="不安全"):
        verify(_rewrite(archive, tmp_path / "evil.tar.gz", extra={"media/../../evil": b"x"}))

    other = "postgresql" if verify(archive).engine == "sqlite" else "sqlite"

    def foreign(m):
        return {**m, "engine": other}

    with pytest.raises(BackupError):
        restore(_rewrite(archive, tmp_path / "foreign.tar.gz", manifest=foreign))

    not_a_backup = tmp_path / "x.tar.gz"
    with tarfile.open(not_a_backup, "w:gz"):
        pass
    with pytest.raises(BackupError, match="清单"):
        verify(not_a_backup)

    # Nothing was touched by any refusal.
    from towngrid.accounts.models import User

    assert User.objects.filter(username="kept").count() == 1
    assert (media / "cases" / "2023" / "a.jpg").read_bytes() == b"photo-a"


def test_sqlite_row_counts_are_checked(media, tmp_path, user_factory):
    archive = tmp_path / "b.tar.gz"
    if backup(archive).engine != "sqlite":
        pytest.skip("row counts are checked inside the SQLite copy")

    def lie(m):
        return {**m, "counts": {**m["counts"], "accounts_user": 99}}

    with pytest.raises(BackupError, match="行数"):
        verify(_rewrite(archive, tmp_path / "lie.tar.gz", manifest=lie))


def test_the_commands(media, tmp_path, capsys):
    archive = tmp_path / "c.tar.gz"
    call_command("backup", "-o", str(archive))
    call_command("backup", "--verify", str(archive))
    call_command("restore", str(archive), "--yes")
    out = capsys.readouterr().out
    assert "Backed up" in out and "OK:" in out and "Restored" in out
