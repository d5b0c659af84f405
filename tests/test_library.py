"""Portable interests over real HTTP on SQLite and PostgreSQL: a reader's library (BibTeX, plain
ids) imported through the page and the API as upvotes, "more like this" or a collection, with
the references not found listed by line; a whole profile exported from one site and imported
into another (a second home with its own SQLite database, through the CLI) with nothing lost,
twice without change; bad files refused with one line."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import BACKENDS, CliResult, PostgresServer, Site, _free_port, start_site
from test_members import PASSWORD, page_token, sign_in
from typer.testing import CliRunner

from paperboard.core.config import Settings, load_settings
from paperboard.core.ids import is_arxiv_id
from paperboard.core.passwords import hash_password
from paperboard.core.records import PaperRecord
from paperboard.present.container import Container
from paperboard.sources.references import MAX_BYTES

NEW = "2401.01234"  # only on the module's site, found by its DOI
TITLED = "2402.05678"  # only on the module's site, found by its title
OLD = "hep-th/9901001"  # only on the module's site: an old-style id
ADDED = (NEW, TITLED, OLD)
DOI = "10.1234/Example.5678"
TITLE = "Exact Titles Are Matched: A Case Study"


def _clean_environment(patch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if variable.startswith("PAPERBOARD_") and not variable.startswith("PAPERBOARD_TEST_"):
            patch.delenv(variable)


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The demo papers and two more, served once per backend for the whole module."""
    from paperboard.sources.demo import DemoSource
    from paperboard.store.importer import run_import
    from paperboard.store.papers import PaperStore

    home = tmp_path_factory.mktemp("library-home")
    database = f"sqlite:///{home / 'paperboard.db'}"
    server: PostgresServer | None = None
    name = "t_" + uuid.uuid4().hex[:12]
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        server.admin(f"CREATE DATABASE {name}")
        database = server.url(name)
    with pytest.MonkeyPatch.context() as patch:
        _clean_environment(patch)
        settings = load_settings(
            home=Path(home),
            database_url=database,
            base_url=f"http://127.0.0.1:{_free_port()}",
            page_cache_seconds=0,
        )
        store = PaperStore.open(settings)
        run_import(store, DemoSource(), processes=1)
        when = datetime(2024, 1, 3, 12, tzinfo=UTC)
        store.write(
            [
                PaperRecord(
                    id=NEW,
                    source="arxiv",
                    title="Attention & memory",
                    authors=["Ada Lovelace"],
                    categories=["cs.LG"],
                    published_at=when,
                    doi=DOI,
                ),
                PaperRecord(
                    id=TITLED,
                    source="arxiv",
                    title=TITLE,
                    authors=["Alan Turing"],
                    categories=["cs.CL"],
                    published_at=when,
                ),
                PaperRecord(
                    id=OLD,
                    source="arxiv",
                    title="Strings, old style",
                    authors=["Grace Hopper"],
                    categories=["hep-th"],
                    published_at=datetime(1999, 1, 4, tzinfo=UTC),
                ),
            ]
        )
        store.close()
        app, uvicorn_server, thread = start_site(settings)
        yield Site(settings.base_url, settings, app)
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
    if server is not None:
        server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def other_site(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A second paperboard: its own home and SQLite file, the demo papers only."""
    from paperboard.sources.demo import DemoSource
    from paperboard.store.importer import run_import

    home = tmp_path_factory.mktemp("other-home")
    with pytest.MonkeyPatch.context() as patch:
        _clean_environment(patch)
        settings = load_settings(home=home, database_url=f"sqlite:///{home / 'other.db'}")
        with Container.open(settings) as container:
            run_import(container.papers, DemoSource(), processes=1)
    return settings


def demo_ids(site: Site, count: int) -> list[str]:
    """Some demo papers (most have ``demo:`` ids), read from the store."""
    rows = site.services.papers.list_papers(date(1990, 1, 1), date(2100, 1, 1), sort="published")
    ids = sorted(r["id"] for r in rows if r["id"] not in ADDED)
    assert len(ids) >= count
    return ids[:count]


def arxiv_demo(papers: Any) -> str:
    """A demo paper with an arXiv id (what a BibTeX ``eprint`` or an id list names)."""
    rows = papers.list_papers(date(1990, 1, 1), date(2100, 1, 1))
    return sorted(r["id"] for r in rows if is_arxiv_id(r["id"]) and r["id"] not in ADDED)[0]


def new_member(site: Site, name: str) -> tuple[int, str]:
    unique = f"{name}{uuid.uuid4().hex[:6]}"
    member = site.services.members.create(f"{unique}@example.org", unique, hash_password(PASSWORD))
    return member["id"], f"{unique}@example.org"


@contextmanager
def signed_in(site: Site, name: str) -> Iterator[tuple[httpx.Client, int]]:
    member_id, email = new_member(site, name)
    with site.client() as client:
        assert sign_in(client, email=email).status_code == 303
        yield client, member_id


def bearer(site: Site, member_id: int) -> httpx.Client:
    token = site.services.members.create_token(member_id, "library")
    return site.client(headers={"Authorization": f"Bearer {token}"})


def bibtex(paper: str) -> bytes:
    """Five entries: an arXiv eprint, a DOI in another case, an exact title with other spacing
    and case, and two that no paper here has (lines 13 and 17)."""
    return f"""@misc{{one,
  title = {{Whatever the title says}},
  eprint = {{{paper}}},
  archivePrefix = {{arXiv}},
}}
@article{{two,
  title = {{A title that does not matter}},
  doi = {{{DOI.upper()}}},
}}
@inproceedings{{three,
  title = {{exact   titles are MATCHED: a case study}},
}}
@article{{nowhere,
  title = {{A Paper Nobody Has}},
  journal = {{Journal of Nothing}},
}}
@misc{{missing,
  eprint = {{2401.99999}},
  archivePrefix = {{arXiv}},
}}
""".encode()


def upload(
    client: httpx.Client, path: str, content: bytes, name: str, **fields: str
) -> httpx.Response:
    token = page_token(client, "/account/library")
    return client.post(
        path, data={"csrf_token": token, **fields}, files={"file": (name, content, "text/plain")}
    )


# -- a reader's library ----------------------------------------------------------------------------


def test_bibtex_through_the_page_as_upvotes_then_as_more_like_this(site: Site) -> None:
    paper = arxiv_demo(site.services.papers)
    with signed_in(site, "Reader") as (client, member_id):
        form = client.get("/account/library")
        assert form.status_code == 200
        assert 'enctype="multipart/form-data"' in form.text
        assert 'href="/account/profile.json"' in form.text
        answer = upload(client, "/account/library", bibtex(paper), "zotero.bib", **{"as": "upvote"})
        assert answer.status_code == 200, answer.text
        assert "zotero.bib (bibtex): 3 of 5 references matched papers here; 3 new," in answer.text
        assert "<td>13</td><td></td><td></td><td>A Paper Nobody Has</td>" in answer.text
        assert "<td>17</td><td>2401.99999</td>" in answer.text
        upvoted = {pid for pid, _ in site.services.community.upvotes_of(member_id)}
        assert upvoted == {paper, NEW, TITLED}

        again = upload(client, "/account/library.json", bibtex(paper), "zotero.bib")
        report = again.json()["report"]
        assert (report["matched"], report["added"], report["already"]) == (3, 0, 3)
        assert report["format"] == "bibtex" and report["papers"] == [paper, NEW, TITLED]
        assert [(r["line"], r["arxiv_id"], r["title"]) for r in report["unmatched"]] == [
            (13, None, "A Paper Nobody Has"),
            (17, "2401.99999", None),
        ]

        more = upload(client, "/account/library.json", bibtex(paper), "x.bib", **{"as": "more"})
        assert more.json()["report"]["as"] == "more" and more.json()["report"]["added"] == 3
        marked = site.services.interests.signals_of(member_id)["more"]
        assert {pid for pid, _ in marked} == {paper, NEW, TITLED}
        assert client.get("/account/library.json").json()["counts"]["more"] == 3


def test_plain_ids_through_the_api_into_a_collection(site: Site) -> None:
    first, second = arxiv_demo(site.services.papers), OLD
    member_id, _ = new_member(site, "Api")
    api = bearer(site, member_id)
    ids = f"# my reading\n{first}\narXiv:{NEW}v2\nhttps://arxiv.org/abs/{second}\n2401.99999\n"
    answer = api.post(
        "/api/me/library",
        params={"as": "  Reading   list "},
        content=ids.encode(),
        headers={"content-type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["format"] == "ids" and report["papers"] == [first, NEW, second]
    assert report["collection"]["name"] == "Reading list" and report["added"] == 3
    assert report["unmatched"] == [
        {"line": 5, "arxiv_id": "2401.99999", "doi": None, "title": None}
    ]
    shown = api.get(f"/api/collections/{report['collection']['id']}").json()
    assert {p["id"] for p in shown["papers"]} == {first, NEW, second}

    # A multipart form works too, and the same papers again add nothing.
    again = api.post(
        "/api/me/library",
        params={"as": "Reading list", "format": "ids"},
        files={"file": ("list.txt", ids.encode(), "text/plain")},
    )
    assert again.status_code == 200 and again.json()["added"] == 0
    assert again.json()["collection"]["id"] == report["collection"]["id"]
    nothing = api.post("/api/me/library", params={"as": "Empty"}, content=b"2401.99999\n")
    assert nothing.json()["collection"] is None  # no paper matched: no collection made
    assert site.services.interests.collection_named(member_id, "Empty") is None
    assert site.client().post("/api/me/library", content=ids.encode()).status_code == 401
    api.close()


def test_bad_files_and_choices_get_one_line_each(site: Site) -> None:
    with signed_in(site, "Careless") as (client, member_id):
        garbage = upload(client, "/account/library", b"hello\nworld\n", "notes.txt")
        assert garbage.status_code == 400
        assert "no arXiv id or DOI found (line 1: &#39;hello&#39; is neither)" in garbage.text
        assert 'enctype="multipart/form-data"' in garbage.text  # the form again
        twin = upload(client, "/account/library.json", b"\x00\x01binary", "x.bin")
        assert twin.status_code == 400 and list(twin.json()) == ["error"]
        unnamed = upload(
            client, "/account/library.json", b"2505.13308", "a.txt", **{"as": "collection"}
        )
        assert unnamed.json() == {"error": "name the collection to import into"}
        odd = upload(client, "/account/library.json", b"x", "a.txt", **{"as": "delete"})
        assert odd.status_code == 400 and "import as one of" in odd.json()["error"]
        fmt = upload(client, "/account/library.json", b"x", "a.txt", format="word")
        assert fmt.status_code == 400 and "unknown reference format 'word'" in fmt.json()["error"]
        # Over 5 MB: 413 from the page, with one line.
        big = upload(client, "/account/library", b"2505.13308\n" * (MAX_BYTES // 11 + 1), "x.txt")
        assert big.status_code == 413 and "at most 5,000,000 bytes" in big.text

        profile = upload(client, "/account/profile.json", b"{not json", "p.json")
        assert profile.status_code == 400
        assert profile.json()["error"].startswith("not a paperboard profile: not JSON (")
        assert "\n" not in profile.json()["error"]

    api = bearer(site, member_id)
    cases = [
        ("/api/me/library", b"", "the file is empty"),
        ("/api/me/library", b"\x00\x01\x02", "the file is binary"),
        ("/api/me/profile", b"[1, 2]", 'no "paperboard_profile" version'),
        ("/api/me/profile", b'{"paperboard_profile": 2}', "a profile of version '2' cannot"),
        ("/api/me/profile", b'{"paperboard_profile": 1, "upvotes": [{"id": 5}]}', "upvotes[0].id"),
        ("/api/me/profile", b'{"paperboard_profile": 1, "follows": {}}', "follows is not a list"),
    ]
    for path, body, message in cases:
        answer = api.post(path, content=body, headers={"content-type": "application/octet-stream"})
        assert answer.status_code == 400, (path, body, answer.text)
        assert message in answer.json()["error"], answer.text
    long = api.post("/api/me/library", params={"as": "x" * 121}, content=b"2505.13308")
    assert long.status_code == 400 and "at most 120 characters" in long.json()["error"]
    # Too large: over the upload limit the server refuses before reading; just over 5 MB the
    # route does; other calls keep the small form limit.
    huge = api.post("/api/me/library", content=b"1" * (MAX_BYTES + 100_000))
    assert huge.status_code == 413 and "request too large" in huge.text
    over = api.post("/api/me/profile", content=b" " * (MAX_BYTES + 1))
    assert over.status_code == 413
    assert over.json() == {
        "error": "the file is too large: at most 5,000,000 bytes can be imported at once"
    }
    small = api.post("/api/collections", json={"name": "x" * 100_000})
    assert small.status_code == 413
    api.close()


# -- a whole profile, from one site to another -------------------------------------------------


def arrange_profile(site: Site, member_id: int) -> list[str]:
    """Upvotes, signals of every kind, settings, two collections with notes, follows and saved
    searches; some of it on papers the other site does not have. The demo papers used."""
    papers = demo_ids(site, 6)
    services = site.services
    for pid in (papers[0], papers[1], NEW):
        services.community.upvote(member_id, pid)
    for pid, kind in (
        (papers[2], "more"),
        (TITLED, "more"),
        (papers[3], "less"),
        (papers[0], "read"),
        (papers[4], "read"),
    ):
        services.interests.set_signal(member_id, pid, kind)
    services.interests.save_settings(
        member_id,
        categories=["stat.ML", "cs.LG"],
        exploration=0.25,
        popularity=0.75,
        only_categories=True,
        hide_read=False,
        onboarded_at=datetime(2025, 2, 3, 4, 5, 6, 789_000, tzinfo=UTC),
    )
    thesis = services.interests.create_collection(
        member_id, "Thesis: chapter 2", description="What I cite", public=True
    )
    services.interests.add_to_collection(member_id, thesis, [papers[0]], "read §3 — twice")
    services.interests.add_to_collection(member_id, thesis, [NEW, papers[5]], "")
    services.interests.create_collection(member_id, "Later")
    services.interests.follow(member_id, "Ada Lovelace")
    services.interests.follow(member_id, "Émile Borel")
    services.interests.save_search(
        member_id,
        "Agents",
        "llm agents",
        mode="lexical",
        filters={"category": "cs.LG", "since": "2024-01-01", "code": True},
        webhook_url="https://hooks.example.org/agents",
    )
    services.interests.save_search(member_id, "Diffusion", "diffusion models")
    return papers


def comparable(profile: dict[str, Any], unknown: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    """A profile without what may differ between two sites: the export time, the member's name,
    the papers the second site does not have, and the order of ties in time."""

    def marks(entries: list[dict[str, str]]) -> dict[str, str]:
        return {e["id"]: e["at"] for e in entries if e["id"] not in unknown}

    return {
        "upvotes": marks(profile["upvotes"]),
        "signals": {kind: marks(entries) for kind, entries in profile["signals"].items()},
        "settings": profile["settings"],
        "collections": {
            c["name"]: (
                c["description"],
                c["public"],
                {
                    p["id"]: (p["note"], p["added_at"])
                    for p in c["papers"]
                    if p["id"] not in unknown
                },
            )
            for c in profile["collections"]
        },
        "follows": profile["follows"],
        "saved_searches": profile["saved_searches"],
    }


def run_cli(settings: Settings, *args: str) -> CliResult:
    """``paperboard ARGS`` in-process against the home and database of ``settings``."""
    from paperboard.present.cli.main import app

    with pytest.MonkeyPatch.context() as patch:
        _clean_environment(patch)
        patch.setenv("PAPERBOARD_HOME", str(settings.home))
        patch.setenv("PAPERBOARD_DATABASE_URL", settings.db_url)
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def test_a_profile_moves_to_another_site_with_nothing_lost(
    site: Site, other_site: Settings, tmp_path: Path
) -> None:
    with signed_in(site, "Mover") as (client, member_id):
        papers = arrange_profile(site, member_id)
        download = client.get("/account/profile.json")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/json"
    assert download.headers["content-disposition"] == (
        'attachment; filename="paperboard-profile.json"'
    )
    exported = download.json()
    assert exported["paperboard_profile"] == 1 and exported["member"]["name"].startswith("Mover")
    assert exported["settings"]["onboarded_at"] == "2025-02-03T04:05:06.789000Z"
    thesis = next(c for c in exported["collections"] if c["name"] == "Thesis: chapter 2")
    assert {p["id"]: p["note"] for p in thesis["papers"]}[papers[0]] == "read §3 — twice"
    api = bearer(site, member_id)
    assert comparable(api.get("/api/me/profile").json()) == comparable(exported)

    # The other site: its own database, the same demo papers, not NEW nor TITLED.
    email = f"mover{uuid.uuid4().hex[:6]}@example.org"
    with Container.open(other_site) as container:
        other_id = container.members.create(email, email.split("@")[0], hash_password(PASSWORD))[
            "id"
        ]
    source = tmp_path / "profile.json"
    source.write_bytes(download.content)
    first = run_cli(other_site, "profile", "import", email, str(source))
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("added 2 upvotes, 1 more, 1 less, 2 read, 6 settings,")
    assert "2 papers unknown here" in first.stdout
    assert f"unknown here: {NEW}, {TITLED}" in first.stderr

    target = tmp_path / "moved.json"
    assert run_cli(other_site, "profile", "export", email, "-o", str(target)).exit_code == 0
    moved = orjson.loads(target.read_bytes())
    assert comparable(moved) == comparable(exported, unknown={NEW, TITLED})
    assert len(moved["upvotes"]) == 2 and len(moved["collections"]) == 2

    # Importing the same file again changes nothing, on either site.
    second = run_cli(other_site, "profile", "import", email, str(source), "--json")
    assert second.exit_code == 0
    assert orjson.loads(second.stdout)["changed"] is False
    assert orjson.loads(second.stdout)["unknown_papers"] == [NEW, TITLED]
    again = run_cli(other_site, "profile", "export", email)
    assert comparable(orjson.loads(again.stdout)) == comparable(moved)
    back = api.post("/api/me/profile", content=target.read_bytes())
    assert back.status_code == 200 and back.json()["changed"] is False
    assert comparable(api.get("/api/me/profile").json()) == comparable(exported)

    # Into another account of the first site, through the page's form.
    with signed_in(site, "Twin") as (twin, twin_id):
        imported = upload(twin, "/account/profile", download.content, "profile.json")
        assert imported.status_code == 200 and "Profile imported" in imported.text
        assert comparable(twin.get("/account/profile.json").json()) == comparable(exported)
        assert (
            site.services.interests.saved_searches_of(twin_id)[0]["token"]
            != (site.services.interests.saved_searches_of(member_id)[0]["token"])
        )  # a feed address of its own
    api.close()
    with Container.open(other_site) as container:
        assert container.members.get(other_id) is not None


def test_a_merge_keeps_what_the_account_has(site: Site) -> None:
    papers = demo_ids(site, 2)
    member_id, _ = new_member(site, "Merger")
    interests = site.services.interests
    interests.set_signal(member_id, papers[0], "less")  # later than the file's "more"
    mine = interests.create_collection(member_id, "Shared name", description="mine")
    interests.add_to_collection(member_id, mine, [papers[1]], "my note")
    interests.save_search(member_id, "Agents", "my words")
    document = {
        "paperboard_profile": 1,
        "signals": {"more": [{"id": papers[0], "at": "2020-01-01T00:00:00Z"}]},
        "collections": [
            {
                "name": "Shared  name",
                "description": "theirs",
                "public": True,
                "papers": [{"id": papers[1], "note": "their note", "added_at": None}],
            }
        ],
        "saved_searches": [{"name": "Agents", "query": "their words"}],
        "settings": {"exploration": 0.5, "favourite_colour": "blue"},
    }
    api = bearer(site, member_id)
    report = api.post("/api/me/profile", json=document).json()
    assert report["added"]["more"] == 0 and report["added"]["collections"] == 0
    assert report["added"]["settings"] == 1
    assert report["problems"] == [
        "setting 'favourite_colour' is unknown here",
        "saved search 'Agents': you have one of that name already; kept yours",
    ]
    assert {kind: [p for p, _ in marks] for kind, marks in interests.signals_of(member_id).items()}[
        "less"
    ] == [papers[0]]
    kept = interests.collection_named(member_id, "Shared name")
    assert kept is not None and (kept["description"], kept["public"]) == ("mine", False)
    assert [i["note"] for i in interests.collection_items(mine)] == ["my note"]
    api.close()


def test_library_import_and_errors_from_the_cli(other_site: Settings, tmp_path: Path) -> None:
    with Container.open(other_site) as container:
        email = f"cli{uuid.uuid4().hex[:6]}@example.org"
        member_id = container.members.create(email, email.split("@")[0], hash_password(PASSWORD))[
            "id"
        ]
        paper = arxiv_demo(container.papers)
    library = tmp_path / "library.bib"
    library.write_bytes(bibtex(paper))
    done = run_cli(other_site, "library", "import", email, str(library), "--as", "more")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith('1 of 5 references matched papers here; 1 new "more like this"')
    assert "not found: line 6: 10.1234/example.5678" in done.stderr
    assert "not found: line 17: 2401.99999" in done.stderr
    with Container.open(other_site) as container:
        assert [p for p, _ in container.interests.signals_of(member_id)["more"]] == [paper]
    listed = run_cli(other_site, "library", "import", email, str(library), "--as", "Bib", "--json")
    assert orjson.loads(listed.stdout)["collection"]["name"] == "Bib"

    garbage = tmp_path / "garbage.txt"
    garbage.write_text("nothing to see\n")
    failed = run_cli(other_site, "library", "import", email, str(garbage))
    assert failed.exit_code == 1
    assert failed.stderr.strip().splitlines() == [
        "paperboard: error: no arXiv id or DOI found (line 1: 'nothing to see' is neither)"
    ]
    bad_profile = run_cli(other_site, "profile", "import", email, str(garbage))
    assert bad_profile.exit_code == 1 and "not a paperboard profile: not JSON" in bad_profile.stderr
    nobody = run_cli(other_site, "profile", "export", "nobody@example.org")
    assert nobody.exit_code == 1 and "no member nobody@example.org" in nobody.stderr
    missing = run_cli(other_site, "library", "import", email, str(tmp_path / "none.bib"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
