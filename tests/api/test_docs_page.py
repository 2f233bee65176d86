"""/api/docs works on a station without internet: every asset comes from the station itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx


class _References(HTMLParser):
    """Every URL the page makes the browser load: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append((tag, value))


def _page(base_url: str) -> httpx.Response:
    page = httpx.get(f"{base_url}/api/docs", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    return page


def test_every_asset_of_the_docs_page_is_served_by_the_station(demo_station: str) -> None:
    page = _page(demo_station)
    parser = _References()
    parser.feed(page.text)
    tags = {tag for tag, _ in parser.urls}
    assert {"script", "link"} <= tags, parser.urls  # the Swagger UI bundle and its stylesheet at least
    station = urlsplit(demo_station)
    expected_type = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for _tag, url in parser.urls:
        absolute = urljoin(f"{demo_station}/api/docs", url)
        assert urlsplit(absolute).netloc == station.netloc, f"{url} is not served by the station"
        asset = httpx.get(absolute, timeout=10)
        assert asset.status_code == 200, url
        assert expected_type[url[url.rfind(".") :]] in asset.headers["content-type"], url
        assert len(asset.content) > 1000, url  # the real file, not an error page
    # The page's script loads the API document from the station too.
    openapi = re.search(r"url: '([^']+)'", page.text)
    assert openapi is not None and openapi.group(1) == "/api/openapi.json"
    assert httpx.get(urljoin(demo_station, openapi.group(1)), timeout=10).json()["info"]["title"] == "Station API"


def test_the_docs_page_names_no_other_host(demo_station: str) -> None:
    text = _page(demo_station).text
    assert not re.findall(r"(?:https?:)?//[\w.-]+", text), "absolute URL in /api/docs"
    assert '"validatorUrl": null' in text  # Swagger UI would otherwise fetch a badge from the internet
