"""The ``dqn-agents push`` sub-command, which ``dqn_agents.cli`` adds with `register`.

```bash
dqn-agents push PATH --repo-id ORG/NAME [--episodes N] [--no-video] [--private]
```
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dqn_agents.argtypes import positive_count

__all__ = ["register", "run_push"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``push`` sub-command to an ``argparse`` sub-parsers object.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The ``push`` parser (its ``func`` default is `run_push`).
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "push",
        help="publish a saved agent on the Hugging Face Hub",
        description=(
            "Evaluate a saved agent and publish it (model.safetensors, config.json, "
            "results.json, README.md model card, replay.mp4) in one commit. A folder that "
            "already has results.json and README.md is published unchanged."
        ),
    )
    parser.add_argument("path", metavar="PATH", help="model .zip or Hub-layout folder")
    parser.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="target repo")
    parser.add_argument(
        "--episodes",
        type=positive_count,
        default=10,
        metavar="N",
        help="evaluation games (default 10)",
    )
    parser.add_argument("--no-video", action="store_true", help="do not record replay.mp4")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument(
        "--commit-message", default=None, help="commit title (default: a generic one)"
    )
    parser.set_defaults(func=run_push, command="push")
    return parser


def run_push(args: argparse.Namespace) -> int:
    """Run ``dqn-agents push`` from parsed arguments.

    Args:
        args: Namespace with ``path``, ``repo_id``, ``episodes``, ``no_video``, ``private``,
            ``commit_message``.

    Returns:
        Process exit status: 0 on success, 2 on a Hub error or bad input (message on
        stderr), like every other ``dqn-agents`` command.
    """
    # Deferred so that building the parser (``dqn-agents --help``) stays fast.
    from dqn_agents.hub.api import push_folder
    from dqn_agents.hub.errors import HubError
    from dqn_agents.hub.push import DEFAULT_COMMIT_MESSAGE

    try:
        result = push_folder(
            args.path,
            args.repo_id,
            n_eval_episodes=args.episodes,
            video=not args.no_video,
            private=args.private,
            commit_message=args.commit_message or DEFAULT_COMMIT_MESSAGE,
        )
    except (HubError, FileNotFoundError, ValueError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the error spans
        print(f"dqn-agents push: error: {message}", file=sys.stderr)
        return 2
    score = result.mean_reward
    print(
        f"Pushed {len(result.files)} files to {result.repo_id} (commit {result.commit_oid})"
        + (f"; mean reward {score:.2f}" if score is not None else "")
    )
    print(result.commit_url)
    return 0
