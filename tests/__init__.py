"""The test suite as one package, so ``tests.conftest`` (and ``tests.containers.conftest``…) is the
very module pytest loaded, not a second copy: ``pytest`` and ``python -m pytest`` from the repo
root, with or without ``-n 2``, import every test module under one name."""
