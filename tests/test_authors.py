"""Author pages, co-authors and following authors, over real HTTP on SQLite and PostgreSQL.

The site's demo papers carry no author names (the seed pages show counts), so each test adds
papers that do: the arXiv slice shipped for ``paperboard demo`` (real names) or a few made here
(namesakes, accents, names with slashes and other odd characters)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from urllib.parse import quote, unquote

from conftest import Site
from test_members import make_token, page_token, sign_up

from paperboard.core.names import author_key
from paperboard.core.records import PaperRecord

ADA = "Ada Lovelace"
ODD = "AC/DC Collective"
MADE = {
    # id: authors (the newest first)
    "1901.00001": [ADA, "Charles Babbage"],
    "1901.00002": ["ADA  LOVELACE", "Charles Babbage", "Mary Somerville"],
    "1901.00003": ["Ádá Lovelace", "Mary Somerville"],
    "1901.00004": ["Ada Lovelace-Byron", "Lovelace Ada"],  # other names: not hers
    "1901.00005": [ODD, "Søren Ørsted", "Who? #1 100%"],
}


def add_made_papers(site: Site, *, index: bool = True) -> None:
    from paperboard.index.indexer import sync_lexical

    records = [
        PaperRecord(
            id=pid,
            source="arxiv",
            version=1,
            title=f"A made-up paper {n}",
            abstract="Written for the author tests.",
            authors=authors,
            published_at=datetime(2019, 1, 10 - n, tzinfo=UTC),
        )
        for n, (pid, authors) in enumerate(MADE.items())
    ]
    site.services.papers.write(records)
    if index:
        sync_lexical(site.services.papers, site.services.search_index())


def add_arxiv_slice(site: Site) -> None:
    from paperboard.index.indexer import sync_lexical
    from paperboard.sources.snapshot import SnapshotSource
    from paperboard.store.importer import run_import

    data = resources.files("paperboard").joinpath("data", "demo_arxiv.jsonl.gz")
    with resources.as_file(data) as path:
        run_import(site.services.papers, SnapshotSource(path), processes=1)
    sync_lexical(site.services.papers, site.services.search_index())


def every_paper(site: Site) -> list[dict]:
    return [row for batch in site.services.papers.changed_since(None) for row in batch]


def with_author(rows: list[dict], name: str) -> set[str]:
    """The ids of the papers among ``rows`` that name the author."""
    key = author_key(name)
    return {row["id"] for row in rows if any(author_key(a) == key for a in row["authors"])}


def test_an_authors_page_lists_exactly_their_papers_and_co_authors(site: Site) -> None:
    add_arxiv_slice(site)
    rows = every_paper(site)
    papers_of: Counter[str] = Counter()
    for row in rows:
        papers_of.update({author_key(a): a for a in row["authors"]}.values())
    name = next(a for a, n in papers_of.most_common() if n >= 3 and author_key(a))
    expected = with_author(rows, name)
    # A paper written after the index last ran is listed too.
    late = PaperRecord(id="2512.99999", source="arxiv", version=1, title="Late", authors=[name])
    site.services.papers.write([late])
    expected.add("2512.99999")

    client = site.client(follow_redirects=True)  # to the spelling most of the papers use
    data = client.get(f"/authors/{quote(name, safe='')}.json").json()
    assert {p["id"] for p in data["papers"]} == expected
    assert data["paper_count"] == len(expected)
    assert author_key(data["author"]["name"]) == author_key(name)
    name = data["author"]["name"]
    assert {r["id"] for r in site.services.papers.papers_by_author(name)} == expected
    published = [p["published_at"] or "" for p in data["papers"]]
    assert published == sorted(published, reverse=True)  # newest first
    shared: Counter[str] = Counter()
    for row in rows:
        if row["id"] in expected:
            shared.update({author_key(a) for a in row["authors"]} - {author_key(name)})
    top = data["coauthors"][0]
    assert (
        top["papers"] == max(shared.values()) and shared[author_key(top["name"])] == top["papers"]
    )
    assert all(shared[author_key(c["name"])] == c["papers"] for c in data["coauthors"])

    html = client.get(f"/authors/{quote(name, safe='')}").text
    assert f'href="{top["url"]}"' in html and html.count('<article class="card"') == len(expected)
    assert "Sign in</a> to follow" in html
    coauthor = client.get(top["url"] + ".json").json()
    assert name in [c["name"] for c in coauthor["coauthors"]]

    # A name spelled with other accents or case is the same author: one address for both.
    spellings: dict[str, set[str]] = {}
    for row in rows:
        for a in row["authors"]:
            spellings.setdefault(author_key(a), set()).add(" ".join(a.split()))
    variant = next(s for s in spellings.values() if len({x.casefold() for x in s}) > 1)
    ids = set()
    for spelled in sorted(variant):
        answer = client.get(f"/authors/{quote(spelled, safe='')}.json")
        assert answer.status_code == 200
        ids.add(frozenset(p["id"] for p in answer.json()["papers"]))
    assert len(ids) == 1 and set(next(iter(ids))) == with_author(rows, sorted(variant)[0])


def test_names_on_cards_and_paper_pages_link_to_author_pages(site: Site) -> None:
    add_made_papers(site)
    client = site.client()
    ada = client.get(f"/authors/{quote(ADA)}.json").json()
    assert [p["id"] for p in ada["papers"]] == ["1901.00001", "1901.00002", "1901.00003"]
    assert [(c["name"], c["papers"]) for c in ada["coauthors"]] == [
        ("Charles Babbage", 2),
        ("Mary Somerville", 2),
    ]
    # Other spellings of her name lead to her page; a longer name or other order is not hers.
    moved = client.get(f"/authors/{quote('ádá   LOVELACE')}")
    assert moved.status_code == 301 and moved.headers["location"] == f"/authors/{quote(ADA)}"
    assert client.get(f"/authors/{quote('Lovelace Ada')}.json").json()["papers"][0]["id"] == (
        "1901.00004"
    )

    paper = client.get("/papers/1901.00005").text
    byline = re.search(r'<p class="authors-full">(.*?)</p>', paper)
    assert byline is not None
    links = re.findall(r'<a href="(/authors/[^"]+)">([^<]+)</a>', byline.group(1))
    assert [unquote(href.removeprefix("/authors/")) for href, _ in links] == MADE["1901.00005"]
    for href, shown in links:  # each, odd characters and all, opens that author's page
        answer = client.get(href + ".json")
        assert answer.status_code == 200, href
        assert answer.json()["papers"][0]["id"] == "1901.00005"
        assert answer.json()["author"]["name"] == shown.replace("&amp;", "&")
    card = client.get("/papers/date/2019-01-10").text
    assert (
        f'<a href="/authors/{quote(ADA)}">{ADA}</a>, <a href="/authors/Charles%20Babbage">' in card
    )
    odd = client.get(f"/authors/{quote(ODD, safe='')}").text
    assert f'action="/authors/{quote(ODD, safe="")}/follow"' not in odd  # signed out: no form
    assert "1901.00005" in odd


def test_follow_and_unfollow_with_forms_and_the_follows_page(site: Site) -> None:
    add_made_papers(site, index=False)  # the index has none of them: the store finds them
    page_url = f"/authors/{quote(ADA)}"
    with site.client() as client:
        signed_out = client.post(f"{page_url}/follow", data={"csrf_token": "x"})
        assert signed_out.status_code == 303 and signed_out.headers["location"].startswith(
            "/signin"
        )
        sign_up(client)
        html = client.get(page_url).text
        assert f'action="{page_url}/follow"' in html and ">Follow</button>" in html
        token = page_token(client, page_url)
        refused = client.post(f"{page_url}/follow", data={"csrf_token": "wrong"})
        assert refused.status_code == 403
        done = client.post(f"/authors/{quote('ádá lovelace')}/follow", data={"csrf_token": token})
        assert done.status_code == 303 and done.headers["location"] == page_url
        assert ">Unfollow</button>" in client.get(page_url).text
        assert client.get(f"{page_url}.json").json()["following"] is True
        odd = f"/authors/{quote(ODD, safe='')}"
        assert client.post(f"{odd}/follow", data={"csrf_token": token}).status_code == 303
        follows = client.get("/account/follows.json").json()["follows"]
        assert [(f["name"], f["url"]) for f in follows] == [(ODD, odd), (ADA, page_url)]
        listing = client.get("/account/follows").text
        assert f'action="{odd}/unfollow"' in listing and f'href="{page_url}"' in listing
        back = client.post(
            f"{odd}/unfollow",
            data={"csrf_token": token},
            headers={"referer": f"{site.url}/account/follows"},
        )
        assert back.status_code == 303 and back.headers["location"] == "/account/follows"
        assert [f["name"] for f in client.get("/account/follows.json").json()["follows"]] == [ADA]
        unknown = client.post("/authors/Nobody%20Atall/follow", data={"csrf_token": token})
        assert unknown.status_code == 404
    with site.client() as anonymous:
        assert anonymous.get(f"{page_url}.json").json()["following"] is None
        assert anonymous.get("/account/follows").status_code == 303  # to sign-in


def test_follows_and_author_papers_through_the_api_with_a_token(site: Site) -> None:
    add_made_papers(site)
    with site.client() as client:
        sign_up(client)
        token = make_token(client)
    with site.client(headers={"Authorization": f"Bearer {token}"}) as api:
        found = api.get(f"/api/authors/{quote(ADA)}", params={"limit": 2}).json()
        assert found["name"] == ADA and found["paper_count"] == 3
        assert [p["paper"]["id"] for p in found["papers"]] == ["1901.00001", "1901.00002"]
        assert found["coauthors"][0] == {
            "name": "Charles Babbage",
            "papers": 2,
            "url": "/authors/Charles%20Babbage",
        }
        assert api.get("/api/me/follows").json() == []
        first = api.put(f"/api/me/follows/{quote('ada lovelace')}").json()
        assert first == {"name": ADA, "key": "ada lovelace", "following": True, "changed": True}
        assert api.put(f"/api/me/follows/{quote(ADA)}").json()["changed"] is False
        assert api.put(f"/api/me/follows/{quote(ODD, safe='')}").json()["name"] == ODD
        assert [f["name"] for f in api.get("/api/me/follows").json()] == [ODD, ADA]
        gone = api.delete(f"/api/me/follows/{quote('ÁDÁ LOVELACE')}").json()
        assert gone["changed"] is True and gone["following"] is False
        assert api.delete(f"/api/me/follows/{quote(ADA)}").json()["changed"] is False
        assert [f["name"] for f in api.get("/api/me/follows").json()] == [ODD]
        missing = api.put("/api/me/follows/Nobody%20Atall")
        assert missing.status_code == 404 and "no papers by an author" in missing.json()["error"]
    with site.client() as anonymous:
        assert anonymous.put(f"/api/me/follows/{quote(ADA)}").status_code == 401
        assert anonymous.get("/api/me/follows").status_code == 401
        assert anonymous.get(f"/api/authors/{quote(ADA)}").status_code == 200


def test_unknown_and_hostile_names_get_a_clear_4xx(site: Site) -> None:
    add_made_papers(site)
    client = site.client()
    unknown = client.get("/authors/Nobody%20Atall")
    assert unknown.status_code == 404 and "no papers by an author named" in unknown.text
    assert client.get("/authors/Nobody%20Atall.json").json() == {
        "error": "no papers by an author named 'Nobody Atall'"
    }
    assert client.get("/api/authors/Nobody%20Atall").status_code == 404
    for punctuation in ("...", "%20", "-%2F-"):  # no name at all once folded
        assert client.get(f"/authors/{punctuation}").status_code == 404
    long = "A" * 300
    for path in (f"/authors/{long}", f"/authors/{long}.json", f"/api/authors/{long}"):
        answer = client.get(path)
        assert answer.status_code == 400 and "at most 200 characters" in answer.text
    with site.client() as member:
        sign_up(member)
        token = page_token(member, "/account")
        assert member.post(f"/authors/{long}/follow", data={"csrf_token": token}).status_code == 400
    for control in ("%00", "%0A", "%1B"):
        assert client.get(f"/authors/Ada{control}Lovelace").status_code == 404
        assert client.get(f"/api/authors/Ada{control}Lovelace").status_code == 404
    # A direction override folds away: the page is the author's, under their own spelling.
    tricky = client.get(f"/authors/{quote('Ada‮ Lovelace')}")
    assert tricky.status_code == 301 and tricky.headers["location"] == f"/authors/{quote(ADA)}"
    script = client.get(f"/authors/{quote('<script>alert(1)</script>')}")
    assert script.status_code == 404 and "<script>alert" not in script.text
