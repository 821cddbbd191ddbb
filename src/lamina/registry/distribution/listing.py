"""Listings: a repository's tags, the registry's catalog (both paginated), Docker Hub's search.

Pages follow ``Link: <…>; rel="next"`` (distribution spec, "Listing Tags") up to a bound, and
refuse a loop; every name listed is checked before it becomes a URL path or a stored tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from lamina.errors import RegistryError
from lamina.registry.auth import repository_scope
from lamina.registry.config import DOCKER_HUB

if TYPE_CHECKING:
    from lamina.registry.transport import EndpointState, RegistryTransport

#: Pages of a tags list or catalog followed at most (a registry's ``Link`` may never end).
MAX_PAGES = 10_000
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)


def list_tags(transport: RegistryTransport, repository: str, *, page_size: int | None = None,
              max_pages: int = MAX_PAGES) -> list[str]:
    """Every tag of ``repository``, following ``Link: <...>; rel="next"`` pages."""
    where = transport.display(repository)

    def attempt(state: EndpointState) -> list[str]:
        pages = paginate(transport, state, f"/v2/{repository}/tags/list", [repository_scope(repository, "pull")],
                         page_size, where, pulling=repository, max_pages=max_pages)
        tags = [tag for page in pages for tag in _listed(page, "tags", where)]
        for tag in tags:
            if not _TAG_RE.fullmatch(tag):
                # it becomes a URL path and a tag in the store: "../x" or "a/b" must not
                raise RegistryError(f"{transport.host} lists an invalid tag {tag[:140]!r} for {where}")
        return tags

    return transport.with_fallback(attempt)


def catalog(transport: RegistryTransport, *, page_size: int | None = None, max_pages: int = MAX_PAGES) -> list[str]:
    """Every repository the registry lists in ``/v2/_catalog`` (distribution's extension)."""
    where = f"{transport.host} catalog"
    pages = paginate(transport, transport.registry, "/v2/_catalog", ["registry:catalog:*"], page_size, where,
                     max_pages=max_pages)
    return [name for page in pages for name in _listed(page, "repositories", where)]


def search_v1(transport: RegistryTransport, term: str, limit: int = 25) -> list[dict[str, Any]] | None:
    """Docker Hub's ``/v1/search``; None when the registry has no search (distribution: 404)."""
    registry = transport.registry
    if transport.host == DOCKER_HUB:
        url = "https://index.docker.io/v1/search"
    else:
        url = f"{transport.resolve(registry)}/v1/search"
    response = transport.get_outside_api(url, {"q": term, "n": str(limit)})
    if response.status_code in (404, 405):
        return None
    if response.status_code != 200:
        raise transport.error(registry, response, f"search {term!r}")
    try:
        results = response.json().get("results") or []
    except (ValueError, AttributeError):
        raise RegistryError(f"{transport.host} sent a search answer that is not JSON") from None
    return [r for r in results if isinstance(r, dict)][:limit]


def paginate(
    transport: RegistryTransport,
    state: EndpointState,
    path: str,
    scopes: Sequence[str],
    page_size: int | None,
    where: str,
    *,
    pulling: str | None = None,
    max_pages: int = MAX_PAGES,
) -> Iterator[dict[str, Any]]:
    """Yield each JSON page of a listing, following ``Link: <next>; rel="next"``."""
    url = path
    params = {"n": str(page_size)} if page_size else None
    visited: set[str] = set()
    for _page in range(max_pages):
        response = transport.request(state, "GET", url, scopes=scopes, params=params)
        if response.status_code != 200:
            raise transport.error(state, response, where, pulling=pulling)
        try:
            page = response.json()
        except ValueError:
            raise RegistryError(f"{transport.host} sent a listing that is not JSON ({where})") from None
        if not isinstance(page, dict):
            raise RegistryError(f"{transport.host} sent an unexpected listing ({where})")
        yield page
        following = response.links.get("next", {}).get("url")
        if not following:
            return
        # The next URL carries its own n= and last=; it may be relative to the request.
        visited.add(str(response.url))
        url = urljoin(str(response.url), following)
        if url in visited:
            raise RegistryError(f"{transport.host} paginates {where} in a loop (back to {url})")
        params = None
    raise RegistryError(f"{transport.host} keeps paginating {where} after {max_pages} pages; giving up")


def _listed(page: dict[str, Any], key: str, where: str) -> list[str]:
    """The names under ``key`` of one listing page; anything but a list of strings is refused."""
    names = page.get(key) or []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise RegistryError(f"{where}: the registry's listing of {key} is not a list of names")
    return names
