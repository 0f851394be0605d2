"""``python -m dqn_agents``: the same as the ``dqn-agents`` command."""

from __future__ import annotations

import sys

from dqn_agents.cli import main

if __name__ == "__main__":
    sys.exit(main())
