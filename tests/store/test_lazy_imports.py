"""A SQLite process loads no PostgreSQL driver, S3 client, image library or migration tool it
does not use (issue 16: memory), and the migrations' head is read right without Alembic."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from alembic.script import ScriptDirectory

from bridge.store.migrate import alembic_config, current_revision, head_revision, upgrade_sync

HEAVY = ("psycopg", "obstore", "PIL", "alembic")


def _loaded_after(code: str) -> set[str]:
    """The heavy modules a fresh interpreter has loaded after running ``code``."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import sys
        print("loaded:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:"), done.stdout
    return set(filter(None, last.removeprefix("loaded:").split(",")))


def test_the_composition_root_and_the_cli_load_none_of_them():
    assert (
        _loaded_after("import bridge.app, bridge.cli.main, bridge.store, bridge.objects") == set()
    )


def test_a_current_sqlite_schema_is_opened_without_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    upgrade_sync(url)  # the first start migrates (with Alembic, in this process)
    loaded = _loaded_after(
        f"""
        from bridge.store.migrate import upgrade_sync
        from bridge.objects import open_object_store, ObjectsSettings
        upgrade_sync({url!r})
        open_object_store(ObjectsSettings(local_directory={str(tmp_path / "files")!r}))
        """
    )
    assert loaded == set()


def test_a_schema_behind_is_migrated_with_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    upgrade_sync(url, "0001")
    loaded = _loaded_after(f"from bridge.store.migrate import upgrade_sync; upgrade_sync({url!r})")
    assert "alembic" in loaded
    from sqlalchemy import create_engine  # noqa: PLC0415 - this test's own engine

    engine = create_engine(url)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    engine.dispose()


def test_the_head_read_from_the_files_is_alembics_own(tmp_path):
    config = alembic_config(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_the_s3_adapter_is_still_reachable_by_name():
    from bridge.objects import S3ObjectStore  # noqa: PLC0415 - the lazy attribute itself
    from bridge.objects.s3 import S3ObjectStore as S3Direct  # noqa: PLC0415 - the module

    assert S3ObjectStore is S3Direct
