"""The pieces under the conversations API: schema migrations, search keys, titles, language detection."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from causerie.config import Settings
from causerie.errors import StorageUnavailable
from causerie.language import detect_language
from causerie.services.titles import clean_title, fallback_title
from causerie.store import Database, search_key
from causerie.store import database_url as store_url
from causerie.store.models import Base
from causerie.store.search import like_pattern, snippet
from tests.conftest import free_port


@pytest.fixture
def database(tmp_path, database_url):
    db = Database.open(database_url or store_url(Settings(data_dir=tmp_path)))
    yield db
    db.close()


def test_migrations_create_exactly_the_models_schema(database):
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert differences == []
    assert version == "0004_sessions"
    database.migrate()  # opening an up-to-date database again changes nothing
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


def test_default_store_is_sqlite_in_the_data_folder(tmp_path):
    assert store_url(Settings(data_dir=tmp_path)) == f"sqlite:///{tmp_path / 'causerie.db'}"
    assert store_url(Settings(data_dir=tmp_path, database_url="postgresql://u@h/db")) == "postgresql+psycopg://u@h/db"
    Database.open(store_url(Settings(data_dir=tmp_path / "new" / "folder"))).close()
    assert (tmp_path / "new" / "folder" / "causerie.db").is_file()


def test_unreachable_or_invalid_database_is_a_readable_error():
    with pytest.raises(StorageUnavailable, match="cannot open database"):
        Database.open(f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/causerie")
    with pytest.raises(StorageUnavailable) as info:
        Database.open(f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/causerie")
    assert "secret" not in info.value.message  # passwords never reach logs or terminals
    with pytest.raises(StorageUnavailable, match="invalid database URL"):
        Database.open("not a url")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Écrire", "ecrire"),
        ("ÉCOLE Noël Ça", "ecole noel ca"),
        ("Straße", "strasse"),
        ("Ｔｏｋｙｏ　１２３", "tokyo 123"),  # full-width forms
        ("ｶﾞｽ", "ガス"),  # half-width katakana become full-width, voicing kept
        ("がぎぐ", "がぎぐ"),  # が is not か
        ("東京都", "東京都"),
    ],
)
def test_search_key(text, key):
    assert search_key(text) == key


def test_like_pattern_escapes_wildcards_and_snippets_point_at_the_match():
    assert like_pattern("100%_\\") == "%100\\%\\_\\\\%"
    long = "début " * 30 + "il faut Écrire la lettre" + " fin" * 30
    cut = snippet(long, "ecrire", width=40)
    assert "Écrire" in cut and cut.startswith("…") and cut.endswith("…")
    assert snippet("東京都に住んでいます", "東京") == "東京都に住んでいます"


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Titre : « Lettre au maire »", "Lettre au maire"),
        ('"Planning a trip to Kyoto."', "Planning a trip to Kyoto"),
        ("タイトル：「東京での生活」", "東京での生活"),
        ("\n\n**Recette de crêpes**\nVoici pourquoi…", "Recette de crêpes"),
        ("", None),
        ('"???"', None),
        ("x" * 81, None),
    ],
)
def test_clean_title(raw, title):
    assert clean_title(raw) == title


def test_fallback_title_cuts_at_a_word_or_a_character():
    assert fallback_title("  Bonjour\n  le monde ") == "Bonjour le monde"
    french = fallback_title("Comment écrire une lettre de motivation pour un poste de boulanger à Lyon ?")
    assert french == "Comment écrire une lettre de motivation pour un…"
    japanese = "東京都に住んでいますが、週末に京都へ行くのにいちばん良い方法を教えてください。新幹線ですか、それともバスですか。"
    assert fallback_title(japanese) == japanese[:50] + "…"


def test_detect_language():
    assert detect_language("Bonjour, comment allez-vous aujourd'hui ?") == "fr"
    assert detect_language("東京都に住んでいます") == "ja"
    assert detect_language("How do I sort a list in Python?") == "en"
    assert detect_language("  12 + 3 = 15 ") is None
