"""Collections, a member's library, over real HTTP on SQLite and PostgreSQL: the pages and their
JSON twins, saving from a paper's page, notes, private and public, the BibTeX export read back
by our own reader, and the API with a personal token."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import BACKENDS, PostgresServer, Site, _free_port, start_site
from test_members import PASSWORD, page_token, sign_in

from paperboard.core.config import load_settings
from paperboard.core.passwords import hash_password
from paperboard.core.records import PaperRecord
from paperboard.sources.references import parse_references

PAPER = "2505.13308"  # a demo paper
OLD = "hep-th/9901001"  # an old-style id: a slash in the address
NEW = "2401.01234"


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The demo papers and two more, served once per backend for the whole module."""
    from paperboard.sources.demo import DemoSource
    from paperboard.store.importer import run_import
    from paperboard.store.papers import PaperStore

    home = tmp_path_factory.mktemp("collections-home")
    database = f"sqlite:///{home / 'paperboard.db'}"
    server: PostgresServer | None = None
    name = "t_" + uuid.uuid4().hex[:12]
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        server.admin(f"CREATE DATABASE {name}")
        database = server.url(name)
    with pytest.MonkeyPatch.context() as patch:
        for variable in list(os.environ):
            if variable.startswith("PAPERBOARD_") and not variable.startswith("PAPERBOARD_TEST_"):
                patch.delenv(variable)
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
                    title="Attention & memory: the $\\alpha$ case",
                    authors=["Ada Lovelace", "Alan Turing"],
                    categories=["cs.LG"],
                    published_at=when,
                    doi="10.1234/example.5678",
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


@contextmanager
def member(site: Site, name: str) -> Iterator[httpx.Client]:
    """A signed-in client of a new member. Made in the store, as the module's one site would
    soon refuse more sign-ups from this address; names are unique across the module."""
    unique = f"{name}{uuid.uuid4().hex[:6]}"
    site.services.members.create(f"{unique}@example.org", unique, hash_password(PASSWORD))
    with site.client() as client:
        assert sign_in(client, email=f"{unique}@example.org").status_code == 303
        yield client


def create(client: httpx.Client, name: str, **fields: str) -> httpx.Response:
    token = page_token(client, "/collections")
    return client.post("/collections", data={"csrf_token": token, "name": name, **fields})


def collection_id(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/collections/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def api_token(client: httpx.Client) -> str:
    page = client.post("/account/tokens", data={"csrf_token": page_token(client), "name": "t"})
    match = re.search(r'<code class="token">(pb_[^<]+)</code>', page.text)
    assert match, "no API token on the account page"
    return match.group(1)


def test_make_a_collection_save_papers_with_notes_and_remove_one(site: Site) -> None:
    with member(site, "Ada") as ada:
        assert ada.get("/collections").status_code == 200
        cid = collection_id(create(ada, "  Reading   list ", description="For the train"))
        listed = ada.get("/collections.json").json()["collections"]
        assert [(c["id"], c["name"], c["size"], c["public"]) for c in listed] == [
            (cid, "Reading list", 0, False)
        ]
        assert 'href="/collections"' in ada.get("/").text  # the header links it

        paper_page = ada.get(f"/papers/{PAPER}").text
        assert f'action="/papers/{PAPER}/collect"' in paper_page
        assert f'<option value="{cid}">Reading list (0)</option>' in paper_page
        token = page_token(ada, f"/papers/{PAPER}")
        saved = ada.post(
            f"/papers/{PAPER}/collect",
            data={"csrf_token": token, "collection": str(cid), "name": "", "note": "read §3"},
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/papers/{PAPER}?saved={cid}#collect"
        assert "Saved to <a" in ada.get(saved.headers["location"]).text
        # A new name makes the collection; the same name again reuses it.
        for _ in range(2):
            made = ada.post(
                f"/papers/{OLD}/collect",
                data={"csrf_token": token, "collection": str(cid), "name": "Strings"},
            )
            assert made.status_code == 303
        names = {c["name"]: c for c in ada.get("/collections.json").json()["collections"]}
        assert names["Strings"]["size"] == 1 and names["Reading list"]["size"] == 1
        ada.post(f"/papers/{OLD}/collect", data={"csrf_token": token, "collection": str(cid)})

        shown = ada.get(f"/collections/{cid}.json").json()
        assert shown["mine"] is True and shown["collection"]["description"] == "For the train"
        assert [(p["id"], p["note"]) for p in shown["papers"]] == [(OLD, ""), (PAPER, "read §3")]
        assert shown["papers"][1]["title"] and "upvotes" in shown["papers"][1]  # a feed card
        html = ada.get(f"/collections/{cid}").text
        assert 'class="card"' in html and "read §3</textarea>" in html

        note = ada.post(
            f"/collections/{cid}/note",
            data={"csrf_token": token, "paper_id": OLD, "note": "  the <b>classic</b> "},
        )
        assert note.status_code == 303
        assert "the &lt;b&gt;classic&lt;/b&gt;</textarea>" in ada.get(f"/collections/{cid}").text
        removed = ada.post(
            f"/collections/{cid}/remove", data={"csrf_token": token, "paper_id": OLD}
        )
        assert removed.status_code == 303
        shown = ada.get(f"/collections/{cid}.json").json()
        assert [p["id"] for p in shown["papers"]] == [PAPER]
        assert shown["collection"]["size"] == 1

        renamed = ada.post(
            f"/collections/{cid}/edit",
            data={"csrf_token": token, "name": "Train", "description": "", "public": "true"},
        )
        assert renamed.status_code == 303
        after = ada.get(f"/collections/{cid}.json").json()["collection"]
        assert (after["name"], after["description"], after["public"]) == ("Train", "", True)
        deleted = ada.post(f"/collections/{cid}/delete", data={"csrf_token": token})
        assert deleted.status_code == 303 and deleted.headers["location"] == "/collections"
        assert ada.get(f"/collections/{cid}").status_code == 404
        assert site.services.papers.get(PAPER) is not None  # the paper stays


def test_private_is_404_to_everyone_else_and_public_is_read_only(site: Site) -> None:
    with member(site, "Owner") as owner, member(site, "Other") as other:
        token = page_token(owner, "/collections")
        private = collection_id(create(owner, "Secret plans"))
        public = collection_id(create(owner, "Shared", public="true"))
        for cid in (private, public):
            owner.post(
                f"/papers/{PAPER}/collect",
                data={"csrf_token": token, "collection": str(cid), "note": "my note"},
            )
        anonymous = site.client()
        for client in (anonymous, other):
            for path in (f"/collections/{private}", f"/collections/{private}.json"):
                answer = client.get(path)
                assert answer.status_code == 404 and "Secret plans" not in answer.text
            assert client.get(f"/collections/{private}.bib").status_code == 404
            assert client.get(f"/api/collections/{private}").status_code == 404
            shown = client.get(f"/collections/{public}.json").json()
            assert shown["mine"] is False and shown["collection"]["owner"].startswith("Owner")
            assert [(p["id"], p["note"]) for p in shown["papers"]] == [(PAPER, "my note")]
            html = client.get(f"/collections/{public}").text
            assert '<p class="note">my note</p>' in html
            assert "/note" not in html and "/remove" not in html and "/delete" not in html
        # Reading is not changing: the other member's writes find no collection of theirs.
        other_token = page_token(other, "/collections")
        for action, data in (
            ("edit", {"name": "Mine now"}),
            ("delete", {}),
            ("remove", {"paper_id": PAPER}),
            ("note", {"paper_id": PAPER, "note": "x"}),
        ):
            answer = other.post(
                f"/collections/{public}/{action}", data={"csrf_token": other_token, **data}
            )
            assert answer.status_code == 404, action
        refused = other.post(
            f"/papers/{PAPER}/collect", data={"csrf_token": other_token, "collection": str(public)}
        )
        assert refused.status_code == 404
        assert owner.get(f"/collections/{public}.json").json()["collection"]["name"] == "Shared"
        assert anonymous.get("/collections").status_code == 303  # to sign in
        assert f'action="/papers/{PAPER}/collect"' not in anonymous.get(f"/papers/{PAPER}").text
        anonymous.close()


def test_the_bibtex_export_reads_back_with_the_ids_and_notes(site: Site) -> None:
    with member(site, "Bib") as client:
        token = page_token(client, "/collections")
        cid = collection_id(create(client, "Thesis: chapter 2/3"))
        for paper_id, note in ((NEW, "cite for the & trick"), (OLD, ""), (PAPER, "")):
            client.post(
                f"/papers/{paper_id}/collect",
                data={"csrf_token": token, "collection": str(cid), "note": note},
            )
        answer = client.get(f"/collections/{cid}.bib")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/x-bibtex; charset=utf-8"
        disposition = answer.headers["content-disposition"]
        assert 'filename="Thesis-chapter-2-3.bib"' in disposition
        assert "filename*=UTF-8''Thesis%3A%20chapter%202-3.bib" in disposition
        references = parse_references(answer.content, "bibtex")
        assert [r.arxiv_id for r in references] == [NEW, OLD, PAPER]  # in the order collected
        assert references[0].doi == "10.1234/example.5678"
        assert "@misc{lovelace2024attention," in answer.text
        assert r"note = {cite for the \& trick}" in answer.text
        # A token works too, and a public collection exports for anyone.
        bearer = {"Authorization": f"Bearer {api_token(client)}"}
        assert site.client().get(f"/collections/{cid}.bib", headers=bearer).status_code == 200
        assert site.client().get(f"/collections/{cid}.bib").status_code == 404
        client.post(
            f"/collections/{cid}/edit",
            data={"csrf_token": token, "name": "Thesis: chapter 2/3", "public": "true"},
        )
        assert site.client().get(f"/collections/{cid}.bib").text == answer.text


def test_the_api_with_a_personal_token(site: Site) -> None:
    with member(site, "Api") as client:
        headers = {"Authorization": f"Bearer {api_token(client)}"}
    api = site.client(headers=headers)
    made = api.post("/api/collections", json={"name": "Agents", "description": "LLM agents"})
    assert made.status_code == 201
    cid = made.json()["id"]
    assert made.json()["url"] == f"/collections/{cid}" and made.json()["size"] == 0
    added = api.post(
        f"/api/collections/{cid}/papers",
        json={"ids": [PAPER, f"arXiv:{NEW}v2", PAPER], "note": "to read"},
    )
    assert added.status_code == 200
    assert added.json() == {"id": cid, "ids": [PAPER, NEW], "added": 2, "size": 2}
    again = api.post(f"/api/collections/{cid}/papers", json={"ids": [NEW], "note": "read"})
    assert again.json()["added"] == 0
    shown = api.get(f"/api/collections/{cid}").json()
    assert {p["id"]: p["note"] for p in shown["papers"]} == {PAPER: "to read", NEW: "read"}
    assert [c["id"] for c in api.get("/api/collections").json()] == [cid]

    patched = api.patch(f"/api/collections/{cid}", json={"public": True, "name": "Agents!"})
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["public"]) == ("Agents!", True)
    assert patched.json()["description"] == "LLM agents"  # left as it was
    assert site.client().get(f"/api/collections/{cid}").status_code == 200  # public: anyone

    gone = api.delete(f"/api/collections/{cid}/papers/{PAPER}")
    assert gone.json() == {"id": cid, "paper": PAPER, "removed": True}
    assert api.delete(f"/api/collections/{cid}/papers/{PAPER}").json()["removed"] is False
    assert api.get(f"/api/collections/{cid}").json()["size"] == 1
    assert api.delete(f"/api/collections/{cid}").json() == {"id": cid, "deleted": True}
    assert api.get(f"/api/collections/{cid}").status_code == 404
    assert site.client().get("/api/collections").status_code == 401
    api.close()


def test_bad_input_gets_one_line_each(site: Site) -> None:
    with member(site, "Careful") as owner, member(site, "Nosy") as nosy:
        owner_api = site.client(headers={"Authorization": f"Bearer {api_token(owner)}"})
        nosy_api = site.client(headers={"Authorization": f"Bearer {api_token(nosy)}"})
        token = page_token(owner, "/collections")
        blank = create(owner, "   ")
        assert blank.status_code == 400 and "the collection needs a name" in blank.text
        long = owner_api.post("/api/collections", json={"name": "x" * 121})
        assert long.status_code == 400
        assert long.json() == {"error": "a collection name may have at most 120 characters"}
        cid = collection_id(create(owner, "Unique"))
        twice = create(owner, "Unique")
        assert twice.status_code == 409 and "already have a collection named" in twice.text
        assert owner_api.post("/api/collections", json={"name": "Unique"}).status_code == 409
        other = owner_api.post("/api/collections", json={"name": "Other"}).json()["id"]
        clash = owner_api.patch(f"/api/collections/{other}", json={"name": "Unique"})
        assert clash.status_code == 409 and list(clash.json()) == ["error"]

        unknown = owner_api.post(
            f"/api/collections/{cid}/papers", json={"ids": [PAPER, "2401.99999"]}
        )
        assert unknown.status_code == 404 and "2401.99999" in unknown.json()["error"]
        assert owner_api.get(f"/api/collections/{cid}").json()["size"] == 0  # all or nothing
        assert (
            owner.post(
                "/papers/2401.99999/collect", data={"csrf_token": token, "collection": str(cid)}
            ).status_code
            == 404
        )
        neither = owner.post(f"/papers/{PAPER}/collect", data={"csrf_token": token, "name": " "})
        assert neither.status_code == 400 and "name a new one" in neither.text
        not_held = owner.post(
            f"/collections/{cid}/note", data={"csrf_token": token, "paper_id": PAPER, "note": "x"}
        )
        assert not_held.status_code == 404 and "does not hold" in not_held.text
        assert owner_api.post(f"/api/collections/{cid}/papers", json={"ids": []}).status_code == 422
        assert owner.get("/collections/abc").status_code == 404
        assert owner.get("/collections/99999999").status_code == 404

        # Someone else's collection (private): as if it did not exist, whatever the call.
        for answer in (
            nosy_api.get(f"/api/collections/{cid}"),
            nosy_api.patch(f"/api/collections/{cid}", json={"public": True}),
            nosy_api.delete(f"/api/collections/{cid}"),
            nosy_api.post(f"/api/collections/{cid}/papers", json={"ids": [PAPER]}),
            nosy_api.delete(f"/api/collections/{cid}/papers/{PAPER}"),
        ):
            assert answer.status_code == 404 and list(answer.json()) == ["error"]
        assert owner_api.get(f"/api/collections/{cid}").json()["public"] is False
        # A form without the CSRF token changes nothing.
        assert owner.post("/collections", data={"name": "No token"}).status_code == 403
        owner_api.close()
        nosy_api.close()
