"""``python -m tests.compat SOCKET_DIR [CASE-REGEX...]``: run the compat cases against a running dockerd."""

import sys

from tests.compat.harness import main

sys.exit(main(sys.argv[1:]))
