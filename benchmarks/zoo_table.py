"""The model zoo's table for the docs, read from the shipped folders themselves.

Every ``zoo/<name>/`` written by ``zoo_agent.py`` holds ``results.json`` (our greedy
evaluation and the cross-check through Gymnasium's own ``AtariPreprocessing``) and
``training_log.json`` (the run's ``progress.json``: agent steps, minutes, machine, every
training game). This script turns them into one docs table, so the "Model zoo" page shows
the numbers the folders carry and never a copy typed by hand.

Usage:
    python benchmarks/zoo_table.py [--zoo zoo] [--json docs/benchmarks/results/zoo.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

import common

COLUMNS = [
    "Agent",
    "Env id",
    "Greedy score (ours)",
    "Through Gymnasium's AtariPreprocessing",
    "Agent steps",
    "Minutes of training",
    "Trained on",
    "Evaluated",
]


def zoo_row(folder: Path) -> list[Any]:
    """The table row of one zoo folder.

    Args:
        folder: A ``zoo/<name>`` folder with ``results.json`` and ``training_log.json``.

    Returns:
        The cells of `COLUMNS`.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp()) / "dqn-Pong-v5"
        >>> folder.mkdir()
        >>> _ = (folder / "results.json").write_text(json.dumps({
        ...     "env_id": "ALE/Pong-v5", "mean_reward": 19.0, "std_reward": 1.5,
        ...     "n_eval_episodes": 20, "eval_datetime": "2026-12-03T14:00:00+00:00",
        ...     "gymnasium_preprocessing": {"scores": [18.0, 20.0]}}))
        >>> _ = (folder / "training_log.json").write_text(json.dumps({
        ...     "steps": 8_000_000, "train_seconds": 36_000.0, "cpu": "AMD EPYC; avx512f"}))
        >>> zoo_row(folder)[2:6]
        ['19.0 ± 1.5 (20 games)', '19.0 ± 1.0 (2 games)', 8000000, 600.0]
    """
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    log_path = folder / "training_log.json"
    log = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else {}
    cross = (results.get("gymnasium_preprocessing") or {}).get("scores") or []
    cross_cell = (
        f"{mean(cross):.1f} ± {pstdev(cross):.1f} ({len(cross)} games)" if cross else "not run"
    )
    return [
        f"[{folder.name}](https://huggingface.co/dqn-agents/{folder.name})",
        results["env_id"],
        f"{results['mean_reward']:.1f} ± {results['std_reward']:.1f} "
        f"({results['n_eval_episodes']} games)",
        cross_cell,
        log.get("steps"),
        round(float(log["train_seconds"]) / 60.0, 1) if "train_seconds" in log else None,
        log.get("cpu") or log.get("machine"),
        str(results.get("eval_datetime", ""))[:10],
    ]


def main(argv: list[str] | None = None) -> int:
    """Write the zoo table and print it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zoo", default=str(Path(__file__).resolve().parent.parent / "zoo"))
    parser.add_argument("--json", default=None, help="write the docs table here")
    args = parser.parse_args(argv)
    folders = sorted(p for p in Path(args.zoo).iterdir() if (p / "results.json").is_file())
    if not folders:
        raise SystemExit(f"no zoo folder with a results.json under {args.zoo}")
    rows = [zoo_row(p) for p in folders]
    common.print_table(COLUMNS, rows)
    if args.json:
        common.write_json(
            args.json,
            {
                "title": "The model zoo",
                "date": common.utc_now(),
                "source": "benchmarks/zoo_table.py (from zoo/*/results.json, training_log.json)",
                "columns": COLUMNS,
                "rows": rows,
                "notes": (
                    "Raw game scores of full greedy games (all lives, sticky actions of the "
                    "v5 ids); the cross-check plays the same agent through Gymnasium's "
                    "AtariPreprocessing(noop_max=30) + FrameStackObservation(4), without "
                    "episodic life or fire reset. Minutes are training time inside learn."
                ),
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
