""" "For you": the member model on papers written here (topics, refusals, follows, the mix), then
the site over real HTTP on SQLite and PostgreSQL with the arXiv slice ``paperboard demo`` ships:
picks with reasons, the signal forms, the mix, the first-run start and the API with a token."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from conftest import Site
from test_authors import add_arxiv_slice
from test_members import make_token, page_token, sign_up
from test_store import record

from paperboard.core.names import author_key
from paperboard.core.records import PaperRecord
from paperboard.index.terms import crowding, idf, term_counts, weighted
from paperboard.rank.for_you import Extras, MemberModel, Mix, Pool, Signal, rank
from paperboard.rank.recommend import PoolCache
from paperboard.store.papers import PaperStore

TOPICS = {
    "protein": "Protein folding structure prediction with {x} residue contact maps and "
    "protein language models for folding pathways.",
    "graph": "Graph neural networks for {x} node classification with message passing "
    "over graph structure and graph pooling.",
    "speech": "Speech recognition for {x} acoustic models, spoken language and automatic "
    "speech transcription with noisy audio.",
}
WORDS = ["large", "small", "sparse", "dense", "noisy", "robust", "fast", "deep"]


def made_rows() -> dict[str, dict[str, Any]]:
    rows = {}
    for topic, text in TOPICS.items():
        for n, word in enumerate(WORDS):
            pid = f"{topic}-{n}"
            rows[pid] = {
                "id": pid,
                "title": f"{topic.title()} study {word}",
                "abstract": text.format(x=word),
                "authors": ["Grace Hopper"] if pid == "speech-3" else [f"Author {pid}"],
                "categories": {"protein": ["q-bio.BM"], "graph": ["cs.LG"], "speech": ["eess.AS"]}[
                    topic
                ],
                "total_upvotes": 50 if pid == "speech-5" else n,
            }
    return rows


def test_the_model_learns_a_topic_and_says_which_paper_taught_it() -> None:
    rows = made_rows()
    pool = Pool(list(rows.values()))  # type: ignore[arg-type]
    model = MemberModel.train(pool, [Signal("protein-0", 1.0, "which you upvoted")], rows)  # type: ignore[arg-type]
    picks = rank(model, extras=Extras(hidden={"protein-0"}), k=7)
    assert [pool.ids[p.index].split("-")[0] for p in picks] == ["protein"] * 7
    assert "protein-0" not in [pool.ids[p.index] for p in picks]
    assert picks[0].because == "protein-0"
    assert picks[0].reason == "like “Protein study large”, which you upvoted"


def test_not_interested_sinks_near_copies_and_follows_come_first() -> None:
    rows = made_rows()
    pool = Pool(list(rows.values()))  # type: ignore[arg-type]
    liked = [Signal("protein-0", 1.0, "which you upvoted"), Signal("graph-0", 1.0, "x")]
    before = rank(MemberModel.train(pool, liked, rows), k=24)  # type: ignore[arg-type]
    refused = [*liked, Signal("graph-1", -1.0, "")]
    after = rank(MemberModel.train(pool, refused, rows), k=24)  # type: ignore[arg-type]

    def place(picks: list[Any], topic: str) -> float:
        spots = [n for n, p in enumerate(picks) if pool.ids[p.index].startswith(topic)]
        return sum(spots) / len(spots)

    assert place(after, "graph") > place(before, "graph") + 2
    followed = rank(
        MemberModel.train(pool, liked, rows),  # type: ignore[arg-type]
        extras=Extras(follows={author_key("Grace Hopper"): "Grace Hopper"}),
        k=3,
    )
    assert pool.ids[followed[0].index] == "speech-3"
    assert followed[0].reason == "by Grace Hopper, whom you follow"


def test_the_mix_changes_the_list_as_it_says() -> None:
    rows = made_rows()
    pool = Pool(list(rows.values()))  # type: ignore[arg-type]
    liked = [Signal("protein-0", 2.0, "x"), Signal("graph-0", 1.0, "x")]
    model = MemberModel.train(pool, liked, rows)  # type: ignore[arg-type]
    plain = [pool.ids[p.index] for p in rank(model, k=6)]
    assert "speech-5" not in plain
    popular = [pool.ids[p.index] for p in rank(model, Mix(popularity=1.0), k=6)]
    assert "speech-5" in popular  # 50 upvotes against 0–7
    topics = {pid.split("-")[0] for pid in plain[:4]}
    explored = [pool.ids[p.index] for p in rank(model, Mix(exploration=1.0), k=4)]
    assert len({pid.split("-")[0] for pid in explored}) > len(topics) or topics == {
        "protein",
        "graph",
    }
    only = rank(model, Mix(only_categories=True, categories=("cs.LG",)), k=5)
    assert {pool.ids[p.index].split("-")[0] for p in only} == {"graph"}


def test_crowding_is_the_closeness_of_a_papers_nearest_others() -> None:
    texts = [
        ("Graph neural networks", "Message passing on graphs."),
        ("Graph neural networks", "Message passing graphs."),  # the same terms as the first
        ("Protein folding", "Residue contact maps."),  # shares nothing
        ("Graph neural nets", "Passing messages."),
    ]
    counts = term_counts(texts)
    matrix = weighted(counts, idf(counts))
    crowd = crowding(matrix, k=1)
    assert crowd[0] == crowd[1] == pytest.approx(1.0, abs=1e-5)  # each other, never themselves
    assert crowd[2] == 0.0
    assert 0.0 < crowd[3] < 1.0
    # A reference of every second row: row 2 is in it, and still not its own neighbour.
    sampled = crowding(matrix, reference=2, k=1)
    assert sampled[2] == 0.0
    assert sampled[1] == pytest.approx(1.0, abs=1e-5)  # row 0 is in the reference
    assert sampled[0] == 0.0  # its only other reference row is the protein paper
    assert list(crowding(matrix[:1])) == [0.0]  # no other paper: no neighbours


def test_a_paper_in_a_crowded_topic_needs_more_than_a_lone_one() -> None:
    def row(pid: str, title: str, abstract: str) -> dict[str, Any]:
        return {"id": pid, "title": title, "abstract": abstract, "authors": [], "categories": []}

    rows = {
        f"graph-{n}": row(f"graph-{n}", "Graph neural networks", f"Message passing, variant {n}.")
        for n in range(20)
    }
    rows["protein"] = row("protein", "Protein folding", "Residue contact maps for structures.")
    for n, words in enumerate(["volcanic ash plumes", "medieval trade routes", "coral reefs"]):
        rows[f"other-{n}"] = row(f"other-{n}", words.title(), f"A study of {words}.")
    liked = ("Graph neural networks and folding", "Message passing, variant, contact.")
    rows["liked"] = row("liked", *liked)
    for value in rows.values():
        value["total_upvotes"] = 0
    pool = Pool(list(rows.values()))  # type: ignore[arg-type]
    cosine = pool.cosines(pool.vectors([rows["liked"]]))[:, 0]  # type: ignore[list-item]
    graph, protein = pool.position["graph-1"], pool.position["protein"]
    assert cosine[graph] > cosine[protein]  # by words alone each graph paper is closer
    assert pool.crowding[graph] > 0.3 > 0.1 > pool.crowding[protein]
    model = MemberModel.train(pool, [Signal("liked", 1.0, "x")], rows)  # type: ignore[arg-type]
    picks = rank(model, extras=Extras(hidden={"liked"}), k=3)
    assert pool.ids[picks[0].index] == "protein"


def _ids(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/papers/([^"]+)"', html)


def test_picks_learn_from_signals_given_on_the_site(site: Site) -> None:
    add_arxiv_slice(site)
    store = site.services.papers
    end = store.latest_feed_date()
    assert end is not None
    recent = store.list_papers(date(end.year, end.month, 1), end, category="cs.CL", limit=5)
    seed = recent[0]["id"]
    with site.client() as client:
        sign_up(client)
        token = page_token(client, f"/papers/{seed}")
        assert client.get("/for-you").status_code == 200
        assert "/for-you/start" in client.get("/for-you").text  # nothing yet: start here
        client.post(f"/papers/{seed}/upvote", data={"csrf_token": token})
        page = client.get("/for-you")
        picks = client.get("/for-you.json").json()["papers"]
        assert picks and seed not in [p["id"] for p in picks]
        assert all(p["reason"].startswith("like “") for p in picks[:5]), picks[0]["reason"]
        assert picks[0]["because"] == seed
        assert _ids(page.text)[:3] == [p["id"] for p in picks[:3]]
        first = picks[0]["id"]
        # "not interested" from the card's form, without JavaScript: it goes, and stays gone
        assert f'action="/papers/{first}/signal"' in page.text
        answer = client.post(
            f"/papers/{first}/signal",
            data={"csrf_token": token, "kind": "less"},
            headers={"referer": f"{site.url}/for-you"},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/for-you"
        after = [p["id"] for p in client.get("/for-you.json").json()["papers"]]
        assert first not in after
        # read papers hide while "hide read" is on (the default), and come back when it is off
        second = after[0]
        client.post(f"/papers/{second}/signal", data={"csrf_token": token, "kind": "read"})
        assert second not in [p["id"] for p in client.get("/for-you.json").json()["papers"]]
        saved = client.post(
            "/for-you/settings",
            data={"csrf_token": token, "exploration": "0.5", "categories": "cs.CL cs.CV"},
        )
        assert saved.status_code == 303
        settings = client.get("/for-you.json").json()["mix"]
        assert settings["exploration"] == 0.5 and settings["hide_read"] is False
        assert settings["categories"] == ["cs.CL", "cs.CV"]
        assert second in [p["id"] for p in client.get("/for-you.json?k=100").json()["papers"]]
        bad = client.post("/for-you/settings", data={"csrf_token": token, "exploration": "7"})
        assert bad.status_code in (400, 422)
        wrong = client.post(f"/papers/{seed}/signal", data={"csrf_token": token, "kind": "x"})
        assert wrong.status_code in (400, 422)
        assert (
            client.post("/papers/9999.99999/signal", data={"csrf_token": token, "kind": "more"})
        ).status_code == 404
        api_token = make_token(client)
    with site.client(headers={"Authorization": f"Bearer {api_token}"}) as api:
        listed = api.get("/api/me/for-you", params={"limit": 5}).json()["papers"]
        assert len(listed) == 5 and all(p["reason"] for p in listed)
        target = listed[0]["id"]
        assert api.put(f"/api/me/signals/less/{target}").json()["changed"] is True
        assert target not in [p["id"] for p in api.get("/api/me/for-you").json()["papers"]]
        signals = api.get("/api/me/signals").json()
        assert target in [s["id"] for s in signals["less"]] and signals["read"]
        assert api.delete(f"/api/me/signals/less/{target}").json()["changed"] is True
        mix = api.patch("/api/me/for-you/settings", json={"popularity": 1}).json()
        assert mix["popularity"] == 1.0 and mix["exploration"] == 0.5
        assert api.patch("/api/me/for-you/settings", json={"popularity": 3}).status_code == 422
    with site.client() as anonymous:
        assert anonymous.get("/api/me/for-you").status_code == 401


def test_the_first_run_start_rates_ten_papers_and_shows_picks_at_once(site: Site) -> None:
    add_arxiv_slice(site)
    with site.client() as client:
        sign_up(client)
        areas = client.get("/for-you/start.json").json()
        assert "cs.CV" in areas["categories"] and not areas["papers"]
        chosen = client.get(
            "/for-you/start.json", params={"categories": ["cs.CL", "cs.CV"], "step": "rate"}
        )
        papers = chosen.json()["papers"]
        assert len(papers) == 10
        assert {c for p in papers for c in p["categories"]} >= {"cs.CL", "cs.CV"}
        token = page_token(client, "/for-you/start?categories=cs.CL&step=rate")
        liked = [p["id"] for p in papers if "cs.CL" in p["categories"]][:3]
        refused = [p["id"] for p in papers if "cs.CL" not in p["categories"]][:2]
        form: dict[str, Any] = {"csrf_token": token, "categories": ["cs.CL", "cs.CV"]}
        form |= {f"rate:{pid}": "more" for pid in liked}
        form |= {f"rate:{pid}": "less" for pid in refused}
        form["rate:not-a-paper"] = "more"
        answer = client.post("/for-you/start", data=form)
        assert answer.status_code == 303 and answer.headers["location"] == "/for-you"
        body = client.get("/for-you.json").json()
        assert body["mix"]["onboarded_at"] and body["start"] is None
        picks = body["papers"]
        assert picks and not {p["id"] for p in picks} & set(liked + refused)
        assert picks[0]["reason"].endswith("which you asked for more of")
        assert all(p["because"] in liked for p in picks)  # each pick names what taught it


def test_signals_stored_are_the_ones_given(site: Site) -> None:
    store = site.services.interests
    ada = site.services.members.create("a@example.org", "A", "x")
    paper = "2505.13308"
    assert store.set_signal(ada["id"], paper, "more") is True
    assert store.set_signal(ada["id"], paper, "more") is False
    assert store.set_signal(ada["id"], paper, "less") is True  # replaces "more"
    kinds = store.signals_of(ada["id"])
    assert [pid for pid, _ in kinds["less"]] == [paper] and kinds["more"] == []
    assert isinstance(kinds["less"][0][1], datetime) and kinds["less"][0][1].tzinfo == UTC


def test_a_collection_has_its_own_picks_learnt_from_its_papers_alone(site: Site) -> None:
    add_arxiv_slice(site)
    store = site.services.papers
    end = store.latest_feed_date()
    assert end is not None
    papers = store.list_papers(date(end.year, end.month, 1), end, category="cs.CL", limit=3)
    with site.client() as client:
        sign_up(client)
        ada = site.services.members.by_email("ada@example.org")
        assert ada is not None
        shelf = site.services.interests.create_collection(ada["id"], "Language")
        site.services.interests.add_to_collection(ada["id"], shelf, [p["id"] for p in papers])
        page = client.get(f"/collections/{shelf}")
        assert f'href="/collections/{shelf}/for-you"' in page.text
        body = client.get(f"/collections/{shelf}/for-you.json").json()
        assert body["collection"]["name"] == "Language" and body["papers"]
        picks = body["papers"]
        assert not {p["id"] for p in picks} & {p["id"] for p in papers}
        assert all(p["because"] in {q["id"] for q in papers} for p in picks)
        assert picks[0]["reason"].endswith("in the collection “Language”")
        html = client.get(f"/collections/{shelf}/for-you").text
        assert "For the collection “Language”" in html and _ids(html)[0] == picks[0]["id"]
    with site.client() as stranger:
        assert stranger.get(f"/collections/{shelf}/for-you").status_code == 404  # private
        site.services.interests.update_collection(ada["id"], shelf, public=True)
        shared = stranger.get(f"/api/collections/{shelf}/for-you", params={"limit": 3}).json()
        assert [p["id"] for p in shared["papers"]] == [p["id"] for p in picks[:3]]
        assert stranger.get("/collections/999999/for-you").status_code == 404


def test_the_sites_pool_is_rebuilt_on_a_thread_while_the_old_one_serves(
    store: PaperStore,
) -> None:
    def paper(n: int) -> PaperRecord:
        return record(id=f"2503.1173{n}", title=f"Graph study {n}", abstract="Graphs and nodes.")

    store.write([paper(n) for n in range(3)])
    cache = PoolCache(background=True, check_seconds=0.0)
    first = cache.get(store)
    assert sorted(first.ids) == ["2503.11730", "2503.11731", "2503.11732"]
    store.write([paper(3)])
    assert cache.get(store) is first  # answered with the pool it has, not rebuilt in the request
    cache.settle(timeout=60)
    rebuilt = cache.get(store)
    assert rebuilt is not first and "2503.11733" in rebuilt.ids
    # A digest run's cache (no background) rebuilds a stale pool before returning it.
    batch = PoolCache(check_seconds=0.0)
    before = batch.get(store)
    store.write([paper(4)])
    after = batch.get(store)
    assert after is not before and "2503.11734" in after.ids


def test_interests_read_for_many_members_at_once_keep_each_members_own(site: Site) -> None:
    from paperboard.rank.recommend import interests_of, interests_of_many

    services = site.services
    papers = services.papers
    end = papers.latest_feed_date()
    assert end is not None
    ids = [row["id"] for row in papers.list_papers(date(2000, 1, 1), end, limit=8)]
    assert len(ids) == 8
    ada = services.members.create("ada@example.org", "Ada", "x")["id"]
    bob = services.members.create("bob@example.org", "Bob", "x")["id"]
    cy = services.members.create("cy@example.org", "Cy", "x")["id"]  # gives nothing
    services.community.upvote(ada, ids[0])
    services.interests.set_signal(ada, ids[1], "more")
    services.interests.set_signal(ada, ids[2], "less")
    services.interests.set_signal(ada, ids[3], "read")
    shelf = services.interests.create_collection(ada, "Reading group")
    services.interests.add_to_collection(ada, shelf, [ids[4]])
    services.interests.follow(ada, "Grace Hopper")
    services.interests.save_search(ada, "graphs", "graph neural networks")
    services.community.upvote(bob, ids[5])
    services.interests.set_signal(bob, ids[6], "less")
    services.interests.set_signal(bob, ids[7], "read")
    services.interests.save_settings(bob, hide_read=False, exploration=0.5, categories=["cs.CL"])

    many = interests_of_many(services.community, services.interests, [ada, bob, cy])
    assert set(many) == {ada, bob, cy}
    a, b, c = many[ada], many[bob], many[cy]
    assert {s.paper_id for s in a.signals if s.weight > 0} == {ids[0], ids[1], ids[4]}
    assert [s.paper_id for s in a.signals if s.weight < 0] == [ids[2]]
    assert a.hidden == {ids[0], ids[1], ids[2], ids[3], ids[4]}  # read papers hide by default
    assert list(a.follows.values()) == ["Grace Hopper"]
    assert a.saved_searches == [("graphs", "graph neural networks")]
    assert [s.paper_id for s in b.signals] == [ids[5], ids[6]]
    assert b.hidden == {ids[5], ids[6]}  # this member shows papers already read
    assert b.mix.exploration == 0.5 and b.categories == ["cs.CL"] and not b.follows
    assert c.signals == [] and c.hidden == set() and not c.saved_searches
    for member_id, found in many.items():  # one member at a time reads the same
        assert interests_of(services.community, services.interests, member_id) == found
