"""The web UI's files: served by the app, shipped in the wheel, every visible string in all three catalogs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "causerie" / "web"
LANGUAGES = ("en", "fr", "ja")


def catalog(lang: str) -> dict[str, str]:
    return json.loads((WEB / "i18n" / f"{lang}.json").read_text("utf-8"))


def keys_used() -> set[str]:
    """Catalog keys named in index.html (data-i18n*) and as string literals ("section.key") in the scripts."""
    html = (WEB / "index.html").read_text("utf-8")
    used = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    sections = "|".join({key.split(".")[0] for key in catalog("en")})
    for script in (WEB / "js").glob("*.js"):
        used |= set(re.findall(rf'"((?:{sections})\.[a-z_]+)"', script.read_text("utf-8")))
    return used


def test_catalogs_have_the_same_keys_and_cover_every_string():
    english = catalog("en")
    for lang in LANGUAGES:
        strings = catalog(lang)
        assert strings.keys() == english.keys(), lang
        assert all(isinstance(value, str) and value.strip() for value in strings.values()), lang
        placeholders = {key: set(re.findall(r"\{\w+\}", value)) for key, value in strings.items()}
        assert placeholders == {key: set(re.findall(r"\{\w+\}", value)) for key, value in english.items()}, lang
    missing = keys_used() - english.keys()
    assert not missing, f"strings used but not in the catalogs: {sorted(missing)}"
    sends = [catalog(lang)["composer.send"] for lang in LANGUAGES]
    assert len(set(sends)) == len(LANGUAGES), sends  # translated: every pair of languages differs


def test_the_app_serves_the_ui_and_its_assets(serve_fake):
    url, _ = serve_fake()
    index = httpx.get(url + "/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="web/js/main.js">' in index.text
    for path, kind in [
        ("web/js/main.js", "javascript"),
        ("web/vendor/marked.esm.js", "javascript"),
        ("web/vendor/purify.es.mjs", "javascript"),
        ("web/css/app.css", "text/css"),
        ("web/i18n/ja.json", "application/json"),
    ]:
        response = httpx.get(f"{url}/{path}")
        assert response.status_code == 200, path
        assert kind in response.headers["content-type"], path
    missing = httpx.get(url + "/web/nothing.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert "/" not in httpx.get(url + "/openapi.json").json()["paths"]


def test_the_wheel_ships_every_web_file(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("causerie-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"causerie/web/{path.relative_to(WEB).as_posix()}" for path in WEB.rglob("*") if path.is_file()}
    assert expected <= shipped, sorted(expected - shipped)
