from rlv.cli import main
import sys

sys.exit(main())
