"""Package URLs exactly as Trivy writes them (the form scanners and dashboards compare on).

Trivy's purls (packageurl-go) percent-encode names, namespaces and versions except letters,
digits and ``-._~!$&'()*,;=:`` (so ``+`` is ``%2B``), encode qualifier values fully, keep the
epoch out of the version (``&epoch=N``), and sort qualifiers by key. One writer for the OS and
the language catalogers.
"""

from __future__ import annotations

from urllib.parse import quote

from lamina.security.inventory import OSInfo

__all__ = ["os_purl", "purl"]


def purl(kind: str, namespace: str, name: str, version: str, qualifiers: dict[str, str] | None = None) -> str:
    """``pkg:KIND/NAMESPACE/NAME@VERSION?k=v&…`` with Trivy's escaping and qualifier order."""
    text = f"pkg:{kind}/"
    if namespace:
        text += "".join(_segment(part) + "/" for part in namespace.split("/") if part)
    text += _segment(name)
    if version:
        text += "@" + _segment(version)
    pairs = sorted((key, value) for key, value in (qualifiers or {}).items() if value)
    if pairs:
        text += "?" + "&".join(f"{key}={quote(value, safe='')}" for key, value in pairs)
    return text


def os_purl(kind: str, os: OSInfo | None, name: str, version: str, *, arch: str = "", epoch: int = 0) -> str:
    """An OS package's purl: the distribution as namespace and ``distro`` qualifier, as Trivy."""
    namespace = _NAMESPACES.get(os.family, os.family) if os else _NO_OS_NAMESPACES.get(kind, "")
    qualifiers = {"arch": arch, "epoch": str(epoch) if epoch else ""}
    if os is not None:
        qualifiers["distro"] = os.name if kind == "apk" else f"{os.family}-{os.name}"
    return purl(kind, namespace, name, version, qualifiers)


#: Trivy's purl namespace where it is not the OS family: one for every SUSE distribution.
_NAMESPACES = {"sles": "suse", "sle-micro": "suse", "opensuse": "suse", "opensuse-leap": "suse",
               "opensuse-tumbleweed": "suse"}


#: Without a detected distribution (no release file) the package manager still says whose it is.
_NO_OS_NAMESPACES = {"deb": "debian", "apk": "alpine"}


_SEGMENT_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*,;=:")


def _segment(text: str) -> str:
    return "".join(chr(byte) if byte in _SEGMENT_SAFE else f"%{byte:02X}" for byte in text.encode())
