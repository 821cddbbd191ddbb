"""An image into the local store, through ``lamina load``'s own checks.

Why through load: loading is where the store accepts foreign content (blobs verified as
they are ingested, layers scanned for unsafe paths, diffIDs checked, everything removed
again on failure). The image is written as a docker-archive into a pipe on one thread and
loaded from the other end on this one, so nothing is spooled and no check is written twice.
"""

from __future__ import annotations

import os
import threading

from lamina.image.archive_writer import ArchiveEntry, write_docker_archive
from lamina.image.base import Image
from lamina.oci.reference import Reference
from lamina.store.store import Store


def write_to_store(image: Image, store: Store, refs: list[Reference], *, what: str):
    """Store ``image`` tagged ``refs``; returns archive.load's LoadedImage for it."""
    from lamina.archive.load import load_archive

    read_end, write_end = os.pipe()
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_end, "wb") as out:
                write_docker_archive([ArchiveEntry(image, refs)], out)
        except BrokenPipeError:
            pass  # the loader stopped reading; its error is the one to report
        except BaseException as exc:  # handed to the loading thread
            failures.append(exc)

    producer = threading.Thread(target=produce, name="image to store", daemon=True)
    producer.start()
    try:
        with os.fdopen(read_end, "rb") as stream:
            loaded = load_archive(store, stream, what=what)
    except BaseException:
        producer.join()
        if failures:  # the source failed (a wrong blob): that is the cause, not the short archive
            raise failures[0] from None
        raise
    producer.join()
    if failures:
        raise failures[0]
    return loaded[0]
