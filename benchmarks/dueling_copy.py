"""Copy a time_to_score run into a dueling one that plays exactly as the original did.

A run trained with a plain head (``dueling`` false) is copied into ``DESTINATION`` with a
dueling network computing the same Q-values (`dqn_agents.networks.dueling_state_dict`:
both streams start as copies of the hidden layer, the value output is the mean of the
head's rows). The target network and Adam's moment estimates are carried over the same
way, so training goes on from the same point with twice the hidden units and a dueling
head, instead of restarting. The counters, RNG states and replay memory are the
original's; ``progress.json`` records the change under ``changes`` with its step.

    python benchmarks/dueling_copy.py ~/.cache/dqn-agents/runs/pong-fast-s0-dopa \\
        ~/.cache/dqn-agents/runs/pong-fast-s0-dueling

Then resume ``DESTINATION`` with ``run_atari_fast.sh`` (``RUN_NAME`` = its folder name).
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import common
import torch

from dqn_agents.config import DQNConfig
from dqn_agents.networks import build_q_network, dueling_state_dict
from dqn_agents.serialization import read_model_file, write_model_file

MODEL, PROGRESS, REPLAY = "agent.zip", "progress.json", "replay.npz"
TARGET_PREFIX = "target_net."


def _optimizer_state(
    tensors: Mapping[str, torch.Tensor],
    json_part: dict[str, Any],
    old_names: list[str],
    new_names: list[str],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Map the flattened optimizer state (``state.<param index>.<key>``) onto the new net."""
    by_key: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        _, index, key = name.split(".", 2)
        by_key.setdefault(key, {})[old_names[int(index)]] = tensor
    out: dict[str, torch.Tensor] = {}
    for key, per_param in by_key.items():
        if all(t.dim() == 0 for t in per_param.values()):  # Adam's step count: one per param
            step = next(iter(per_param.values()))
            mapped = {name: step.clone() for name in new_names}
        else:
            mapped = dueling_state_dict(per_param)
        for name, tensor in mapped.items():
            out[f"state.{new_names.index(name)}.{key}"] = tensor
    if json_part.get("scalars"):
        raise SystemExit("per-parameter optimizer scalars are not supported by this copy")
    groups = [dict(group) for group in json_part["param_groups"]]
    if len(groups) != 1:
        raise SystemExit("expected one optimizer parameter group")
    groups[0]["params"] = list(range(len(new_names)))
    return out, {**json_part, "param_groups": groups}


def copy_run(source: Path, destination: Path) -> dict[str, Any]:
    """Write the dueling copy; return its progress record."""
    meta, weights, extras = read_model_file(source / MODEL)
    config = DQNConfig.from_dict(meta["config"])
    if config.dueling:
        raise SystemExit(f"{source} already trains a dueling network")
    shape = meta["network"]["observation_shape"]
    n_actions = int(meta["network"]["n_actions"])
    old = build_q_network(shape, n_actions, config)
    new_config = config.replace(dueling=True)
    new = build_q_network(shape, n_actions, new_config)
    new.load_state_dict(dueling_state_dict(weights), strict=True)  # checks the layout
    meta = {**meta, "config": new_config.to_dict(), "network": new.describe()}

    tensors = dict(extras.get("optimizer", {}))
    state = dict(extras.get("training_state", {}))
    target = {k[len(TARGET_PREFIX) :]: v for k, v in tensors.items() if k.startswith(TARGET_PREFIX)}
    moments = {k: v for k, v in tensors.items() if k.startswith("state.")}
    rest = {k: v for k, v in tensors.items() if not k.startswith((TARGET_PREFIX, "state."))}
    out = dict(rest)
    out.update({TARGET_PREFIX + k: v for k, v in dueling_state_dict(target).items()})
    if "optimizer" in state:
        mapped, state["optimizer"] = _optimizer_state(
            moments,
            state["optimizer"],
            [n for n, _ in old.named_parameters()],
            [n for n, _ in new.named_parameters()],
        )
        out.update(mapped)

    destination.mkdir(parents=True, exist_ok=False)
    write_model_file(destination / MODEL, meta, new.state_dict(), out, state)
    if (source / REPLAY).exists():
        shutil.copyfile(source / REPLAY, destination / REPLAY)
    progress = json.loads((source / PROGRESS).read_text(encoding="utf-8"))
    progress["config"] = new_config.to_dict()
    progress.setdefault("changes", []).append(
        {
            "step": int(meta["num_timesteps"]),
            "hyperparameters": {"dueling": True},
            "how": "benchmarks/dueling_copy.py (the same Q-values, a dueling network)",
        }
    )
    common.write_json(destination / PROGRESS, progress)  # last: names a complete checkpoint
    return progress


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and copy."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a time_to_score checkpoint folder")
    parser.add_argument("destination", type=Path, help="a new folder for the dueling copy")
    args = parser.parse_args(argv)
    progress = copy_run(args.source, args.destination)
    print(f"{args.destination}: a dueling copy at step {progress['steps']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
