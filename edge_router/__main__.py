import sys

from edge_router.cli import main

sys.exit(main())
