"""``python -m graphinfo`` runs the command line."""
import sys

from graphinfo.cli import main

sys.exit(main())
