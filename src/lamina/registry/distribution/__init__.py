"""The distribution client's operations, one module per kind of resource (OCI distribution spec).

:mod:`.manifests` (get, HEAD, put, delete), :mod:`.blobs` (verified, resumable downloads),
:mod:`.uploads` (HEAD, mount, chunked or streamed PATCH, PUT), :mod:`.listing` (tags,
catalog, search). Each is a set of functions over a :class:`~lamina.registry.transport.RegistryTransport`;
:class:`lamina.registry.client.RegistryClient` gathers them behind one object.
"""
