"""The JSON API. ``/api/daily_papers``, ``/api/papers/{id}`` and ``/api/papers/search`` answer
in the shapes of Hugging Face's papers API, so its ``huggingface_hub`` client works against a
paperboard unchanged; similar papers, upvotes, comments and submissions are our own calls
(authenticated by a personal API token: ``Authorization: Bearer pb_...``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Response
from pydantic import BaseModel, Field

from paperboard.core.errors import PaperboardError
from paperboard.present.web.deps import CsrfDep, MemberDep, RowId, ServicesDep, ViewerDep
from paperboard.present.web.openapi import errors
from paperboard.present.web.routes.account import own_submission, submission_data, submit_paper
from paperboard.present.web.routes.papers import find_paper, similar_cards
from paperboard.present.web.routes.search import run_search
from paperboard.present.web.security import claim_comment
from paperboard.present.web.services import Services
from paperboard.rank import periods
from paperboard.rank import trending as trending_rank
from paperboard.store.rows import CountedPaperRow, PaperRow

router = APIRouter(prefix="/api", tags=["api"])


def hf_time(value: datetime | date | None) -> str | None:
    """Hugging Face's timestamp form: ISO 8601 in UTC with milliseconds and a ``Z``."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _authors(row: PaperRow) -> list[dict[str, Any]]:
    return [
        {"_id": f"{row['id']}-{i}", "name": name, "hidden": False}
        for i, name in enumerate(row.get("authors") or [])
    ]


def _submitter(row: PaperRow) -> dict[str, Any] | None:
    name = row.get("submitted_by")
    return {"user": name, "fullname": name, "type": "user", "avatarUrl": None} if name else None


def _extras(row: PaperRow) -> dict[str, Any]:
    """Fields HF's client reads at the top level of an entry (and paperboard's own)."""
    code = row.get("code_urls") or []
    project = row.get("project_urls") or []
    return {
        "githubRepo": code[0] if code else None,
        "projectPage": project[0] if project else None,
        "categories": list(row.get("categories") or []),
        "url": f"/papers/{row['id']}",
    }


def paper_object(row: CountedPaperRow) -> dict[str, Any]:
    """The nested ``paper`` of a daily entry."""
    return {
        "id": row["id"],
        "authors": _authors(row),
        "publishedAt": hf_time(row.get("published_at")),
        "title": row.get("title"),
        "summary": row.get("abstract"),
        "upvotes": int(row.get("total_upvotes") or 0),
        "discussionId": row["id"],
    }


def daily_entry(row: CountedPaperRow) -> dict[str, Any]:
    """One item of ``/api/daily_papers`` and ``/api/papers/search``."""
    submitted = row.get("submitted_on_daily") or row.get("feed_date")
    entry = {
        "paper": paper_object(row),
        "publishedAt": hf_time(submitted),
        "title": row.get("title"),
        # HF's client reads ``paper.upvotes or upvotes``: without this a paper with no upvotes
        # would come out as None instead of 0.
        "upvotes": int(row.get("total_upvotes") or 0),
        "numComments": int(row.get("comment_count") or 0),
        "isAuthorParticipating": False,
        **_extras(row),
    }
    submitter = _submitter(row)
    if submitter:
        entry["submittedBy"] = submitter
    return entry


def paper_info(row: CountedPaperRow) -> dict[str, Any]:
    """The flat object of ``/api/papers/{id}``."""
    info = {
        "id": row["id"],
        "authors": _authors(row),
        "publishedAt": hf_time(row.get("published_at")),
        "submittedOnDailyAt": hf_time(row.get("submitted_on_daily") or row.get("feed_date")),
        "title": row.get("title"),
        "summary": row.get("abstract"),
        "upvotes": int(row.get("total_upvotes") or 0),
        "discussionId": row["id"],
        "numComments": int(row.get("comment_count") or 0),
        **_extras(row),
    }
    submitter = _submitter(row)
    if submitter:
        info["submittedOnDailyBy"] = submitter
    return info


def _period(
    services: Services, day: str | None, week: str | None, month: str | None, submitter: str | None
) -> tuple[date, date]:
    given = [value for value in (day, week, month) if value]
    if len(given) > 1:
        raise PaperboardError("give at most one of date, week and month")
    if day:
        found = periods.day(day)
    elif week:
        found = periods.week(week)
    elif month:
        found = periods.month(month)
    elif submitter:
        return date(1, 1, 1), date(9999, 12, 31)
    else:
        latest = services.papers.latest_feed_date() or datetime.now(UTC).date()
        found = periods.day(latest.isoformat())
    return found.start, found.end


@router.get(
    "/daily_papers",
    summary="Daily papers (Hugging Face's shape)",
    responses=errors(e400="a bad or ambiguous period"),
)
def daily_papers(
    services: ServicesDep,
    date: Annotated[str | None, Query(max_length=10)] = None,
    week: Annotated[str | None, Query(max_length=8)] = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
    submitter: Annotated[str | None, Query(max_length=80)] = None,
    sort: Annotated[str, Query(pattern="^(publishedAt|trending|upvotes)$")] = "upvotes",
    p: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[dict[str, Any]]:
    start, end = _period(services, date, week, month, submitter)
    rows: Sequence[CountedPaperRow]
    if sort == "trending" and not (date or week or month or submitter):
        # No period: the site's trending list (the last fortnight, as on /papers/trending), as
        # Hugging Face's ``sort=trending`` is not limited to the newest day either.
        rows, _ = trending_rank.trending(services.papers, limit=limit, offset=p * limit)
    elif sort == "trending":
        at = trending_rank.reference_time(services.papers.latest_feed_date())
        rows = trending_rank.ranked(
            services.papers.list_papers(start, end, submitter=submitter, limit=5000), at
        )
        rows = rows[p * limit : (p + 1) * limit]
    else:
        rows = services.papers.list_papers(
            start,
            end,
            submitter=submitter,
            sort="published" if sort == "publishedAt" else "upvotes",
            limit=limit,
            offset=p * limit,
        )
    return [daily_entry(row) for row in rows]


@router.get("/papers/search", summary="Search papers (Hugging Face's shape; hybrid ranking)")
def search_papers(
    services: ServicesDep,
    q: Annotated[str, Query(max_length=1000)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    mode: Annotated[str, Query(pattern="^(hybrid|lexical|dense)$")] = "hybrid",
) -> list[dict[str, Any]]:
    if not q.strip():
        return []
    result = run_search(services, q, mode=mode, k=limit)
    rows = services.papers.get_many([hit.id for hit in result.hits])
    return [daily_entry(rows[hit.id]) for hit in result.hits if hit.id in rows]


class Submission(BaseModel):
    id: str = Field(min_length=1, max_length=300, description="arXiv id or URL")


@router.post(
    "/papers/submit",
    summary="Submit a paper by arXiv id or URL",
    responses=errors(
        e202="Accepted: the paper is not stored yet and is fetched from arXiv in the "
        "background; `submission` says where it stands, `submission.url` follows it",
        e400="refused: a bad id, or a stored paper too old",
        e429="the daily submission quota is used up",
    ),
)
def submit(
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    body: Submission,
    response: Response,
    background: BackgroundTasks,
) -> dict[str, Any]:
    submitted = submit_paper(services, member, body.id)
    if submitted.request is not None:
        background.add_task(services.complete_submission, submitted.request["id"])
        response.status_code = 202
        return {"submission": submission_data(submitted.request)}
    assert submitted.paper is not None
    return {"paper": paper_info(submitted.paper), "new": submitted.new}


@router.get(
    "/submissions/{submission_id}",
    summary="Where one's submission stands (queued, fetched, failed)",
    responses=errors(e404="no such submission of one's own"),
)
def submission(
    services: ServicesDep, viewer: ViewerDep, member: MemberDep, submission_id: RowId
) -> dict[str, Any]:
    return submission_data(own_submission(services, viewer, submission_id))


@router.get(
    "/papers/{paper_id:path}/similar",
    summary="Papers similar to this one",
    responses=errors(e400="an unknown facet", e404="no such paper"),
)
def similar(
    services: ServicesDep,
    paper_id: str,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    facet: Annotated[
        str | None,
        Query(
            max_length=40,
            description="Similar in one facet only: background, method or result (the abstract "
            "sentences tagged with that role).",
        ),
    ] = None,
) -> list[dict[str, Any]]:
    row = find_paper(services, paper_id)
    cards = similar_cards(services, row["id"], k=limit, facet=facet or None)
    rows = services.papers.get_many([c["id"] for c in cards])
    extra = ("similarity", "facet_similarity") if facet else ("similarity",)
    return [
        {**daily_entry(rows[c["id"]]), **{key: c[key] for key in extra}}
        for c in cards
        if c["id"] in rows
    ]


@router.post(
    "/papers/{paper_id:path}/upvote",
    summary="Upvote a paper",
    responses=errors(e404="no such paper"),
)
def upvote(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, paper_id: str
) -> dict[str, Any]:
    row = find_paper(services, paper_id)
    changed = services.community.upvote(member["id"], row["id"])
    return {
        "id": row["id"],
        "upvoted": True,
        "changed": changed,
        "upvotes": _upvotes(services, row["id"]),
    }


@router.delete(
    "/papers/{paper_id:path}/upvote",
    summary="Take an upvote back",
    responses=errors(e404="no such paper"),
)
def unvote(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, paper_id: str
) -> dict[str, Any]:
    row = find_paper(services, paper_id)
    changed = services.community.unvote(member["id"], row["id"])
    return {
        "id": row["id"],
        "upvoted": False,
        "changed": changed,
        "upvotes": _upvotes(services, row["id"]),
    }


def _upvotes(services: Services, paper_id: str) -> int:
    row = services.papers.get(paper_id)
    return int(row["total_upvotes"]) if row else 0


class NewComment(BaseModel):
    body: str = Field(min_length=1, max_length=10_000, description="Markdown")


@router.get(
    "/papers/{paper_id:path}/comments",
    summary="A paper's comments",
    responses=errors(e404="no such paper"),
)
def comments(services: ServicesDep, paper_id: str) -> list[dict[str, Any]]:
    row = find_paper(services, paper_id)
    return [
        {
            "id": c["id"],
            "author": c["author"],
            "body": c["body"],
            "createdAt": hf_time(c["created_at"]),
            "editedAt": hf_time(c["edited_at"]),
        }
        for c in services.community.comments(row["id"])
    ]


@router.post(
    "/papers/{paper_id:path}/comments",
    summary="Comment on a paper",
    status_code=201,
    responses=errors(429, e400="the comment is empty", e404="no such paper"),
)
def comment(
    services: ServicesDep, member: MemberDep, _csrf: CsrfDep, paper_id: str, body: NewComment
) -> dict[str, Any]:
    row = find_paper(services, paper_id)
    if not body.body.strip():
        raise PaperboardError("the comment is empty")
    claim_comment(services.members, member)
    comment_id = services.community.add_comment(row["id"], member["id"], body.body.strip())
    return {"id": comment_id, "paper": row["id"]}


@router.get(
    "/papers/{paper_id:path}",
    summary="One paper (Hugging Face's shape)",
    responses=errors(e404="no such paper"),
)
def paper(services: ServicesDep, paper_id: str) -> dict[str, Any]:
    return paper_info(find_paper(services, paper_id))


@router.get("/me", summary="Who the token or session belongs to")
def me(viewer: ViewerDep, member: MemberDep) -> dict[str, Any]:
    return {
        "id": member["id"],
        "name": member["name"],
        "email": member["email"],
        "email_verified": member["email_verified_at"] is not None,
        "role": member["role"],
    }
