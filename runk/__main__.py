"""`python -m runk`: the development entry point (the installed launcher calls the same main)."""

import sys

from runk.cli.main import main

sys.exit(main())
