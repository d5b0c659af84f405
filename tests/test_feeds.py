from conftest import Site
from datetime import UTC, datetime
import feedparser
from paperboard.sources.base import PaperRecord

def test_explore(site: Site) -> None:
    when = datetime(2024, 3, 5, 12, tzinfo=UTC)
    site.services.papers.write([
        PaperRecord(id="2403.00001", source="test", title="Learning <b>bold</b> & x<y \x01ctl", abstract="We show x<y and <script>alert(1)</script> & <b>bold</b>\x0b.", authors=["A <B>", "C"], categories=["cs.LG", "stat.ML"], published_at=when, upvotes=3),
    ])
    c = site.client()
    for path in ["/feeds/date/2024-03-05.xml", "/feeds/date/2024-03-05.xml?format=atom", "/feeds/category/cs.LG.xml"]:
        r = c.get(path)
        print("=====", path, r.status_code, r.headers.get("content-type"))
        print(r.text[:3000])
        f = feedparser.parse(r.content)
        print(f.bozo, f.get("bozo_exception"))
        for e in f.entries:
            print(repr(e.title), e.get("title_detail"), repr(e.summary), e.get("summary_detail"), e.get("author"), e.get("tags"), e.link, e.get("published"))
