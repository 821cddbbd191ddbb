"""``lamina search``: Docker Hub's ``/v1/search`` where a registry offers it, else ``/v2/_catalog``.

distribution answers 404 for ``/v1/search``; there we list the catalog (paginated) and keep
the repositories whose name contains the term, as a user of a private registry would expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lamina.errors import UsageError
from lamina.oci.reference import DEFAULT_DOMAIN


@dataclass(slots=True)
class SearchResult:
    name: str
    description: str = ""
    stars: int = 0
    official: bool = False
    automated: bool = False


def search(term: str, *, limit: int = 25, filters: Sequence[str] = (), registry: str | None = None) -> list[SearchResult]:
    from lamina.registry.client import RegistryClient

    if not 1 <= limit <= 100:
        raise UsageError("limit is outside the range of [1, 100]")
    host, query = _split_term(term, registry)
    official, min_stars, automated = _parse_filters(filters)
    with RegistryClient(host) as client:
        answer = client.search_v1(query, limit)
        if answer is not None:
            results = [SearchResult(
                name=item.get("name", ""), description=item.get("description") or "",
                stars=int(item.get("star_count") or 0), official=bool(item.get("is_official")),
                automated=bool(item.get("is_automated"))) for item in answer]
        else:
            prefix = "" if host == DEFAULT_DOMAIN else host + "/"
            results = [SearchResult(name=prefix + name) for name in client.catalog() if query.lower() in name.lower()]
    kept = [r for r in results
            if (official is None or r.official == official)
            and r.stars >= min_stars
            and (automated is None or r.automated == automated)]
    return kept[:limit]


def _split_term(term: str, registry: str | None) -> tuple[str, str]:
    if registry:
        return registry, term
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DEFAULT_DOMAIN, term


def _parse_filters(filters: Sequence[str]) -> tuple[bool | None, int, bool | None]:
    official = automated = None
    stars = 0
    for item in filters:
        key, _, value = item.partition("=")
        if key == "is-official":
            official = value.lower() in ("true", "1")
        elif key == "is-automated":
            automated = value.lower() in ("true", "1")
        elif key == "stars":
            try:
                stars = int(value)
            except ValueError:
                raise UsageError(f"invalid filter 'stars={value}'") from None
        else:
            raise UsageError(f"invalid filter '{key}'")
    return official, stars, automated
