"""Layer tars: make them from directories and overlay upper dirs, apply them safely, name stacks.

- ``write_dir_tar`` / ``write_overlay_diff``: deterministic layer tars (a directory; an
  overlayfs upper dir with its whiteouts, minus the runtime's mount points).
- ``apply_layer`` / ``list_layer``: safe streaming extraction honouring OCI whiteouts; listing.
- ``chain_id`` / ``chain_ids``: the identity of a stack of layers (snapshot keys).

Compression lives in ``lamina.layer.compression``.
"""

from lamina.layer.apply import AppliedLayer, LayerEntry, apply_layer, list_layer
from lamina.layer.overlaydiff import write_overlay_diff
from lamina.layer.tarwrite import write_dir_tar
from lamina.oci.identity import chain_id, chain_ids

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
