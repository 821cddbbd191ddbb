"""Archives: docker save/load (legacy and Docker 25+ layouts), OCI image layouts, rootfs import."""
