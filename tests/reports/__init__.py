"""Tests of the dashboard and flow pages; helpers to read the generated HTML."""

from __future__ import annotations

from html.parser import HTMLParser

__all__ = ["Element", "parse", "external_urls"]


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag = tag
        self.attrs = attrs

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, dict(attrs)))

    handle_startendtag = handle_starttag


def parse(html: str) -> list[Element]:
    """Every start tag of a page with its attributes (script bodies are not looked into)."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.elements


def external_urls(html: str) -> list[str]:
    """src/href attributes that would reach the network."""
    found = []
    for el in parse(html):
        for name in ("src", "href", "xlink:href", "action"):
            value = (el.attrs.get(name) or "").strip().lower()
            if value.startswith(("http:", "https:", "//", "ftp:")):
                found.append(f"<{el.tag} {name}={value}>")
    return found
