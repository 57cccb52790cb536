from edge_router.cli import main
import sys
sys.exit(main())
