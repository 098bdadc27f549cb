import sys

from rlv.cli import main

sys.exit(main())
