"""The OCI/Docker data model: references, digests, media types, manifests, configs, platforms.

Nothing in here touches the disk or the network; every other package builds on it.
"""
