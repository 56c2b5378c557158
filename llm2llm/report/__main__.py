"""``python -m llm2llm.report``: the report's command line (llm2llm.report.cli)."""

import sys

from llm2llm.report.cli import main

sys.exit(main())
