"""`python -m hscl.cli` (what torchrun starts): the `hscl` command."""

import sys

from hscl.cli import main

sys.exit(main())
