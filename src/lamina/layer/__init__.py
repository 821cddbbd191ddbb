"""Layer tars: make them from directories and overlay upper dirs, apply them safely, name stacks.

- ``write_dir_tar`` / ``write_overlay_diff``: deterministic layer tars (a directory; an
  overlayfs upper dir with its whiteouts, minus the runtime's mount points).
- ``apply_layer`` / ``list_layer``: safe streaming extraction honouring OCI whiteouts; listing.
- ``chain_id`` / ``chain_ids``: the identity of a stack of layers (snapshot keys).

Compression lives in ``lamina.layer.compression``.
"""

__all__ = [
    "AppliedLayer",
    "LayerEntry",
    "apply_layer",
    "chain_id",
    "chain_ids",
    "list_layer",
    "write_dir_tar",
    "write_overlay_diff",
]

_HOMES = {"AppliedLayer": "lamina.layer.apply", "LayerEntry": "lamina.layer.apply",
          "apply_layer": "lamina.layer.apply", "list_layer": "lamina.layer.apply",
          "write_overlay_diff": "lamina.layer.overlaydiff", "write_dir_tar": "lamina.layer.tarwrite",
          "chain_id": "lamina.oci.identity", "chain_ids": "lamina.oci.identity"}


def __getattr__(name: str):
    """The names above, loaded from their modules when first asked for: importing one submodule
    (``lamina.layer.overlayapply`` for a container's init layer) must not load them all."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
