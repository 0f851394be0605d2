"""Draw one observation before and after the DQN preprocessing.

Top row: the raw 210x160 RGB screens the emulator showed at four consecutive agent steps.
Bottom row: the four 84x84 grayscale frames of the ``(4, 84, 84)`` uint8 observation that
``dqn_agents.wrappers.make_atari`` returns at the fourth step (oldest frame left).

Usage::

    python docs/scripts/observation_stack.py            # writes docs/assets/observation_stack.png
    python docs/scripts/observation_stack.py --output /tmp/stack.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from dqn_agents.wrappers import make_atari

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "assets" / "observation_stack.png"


def collect(env_id: str, seed: int, warmup: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Play ``warmup`` steps with a fixed action sequence, then 4 more; return frames + obs."""
    env = make_atari(env_id)
    try:
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        n = int(env.action_space.n)
        raw: list[np.ndarray] = []
        for step in range(warmup + 4):
            obs, _, terminated, truncated, _ = env.step(int(rng.integers(n)))
            if terminated or truncated:
                obs, _ = env.reset()
            if step >= warmup:
                raw.append(np.asarray(env.unwrapped.ale.getScreenRGB()).copy())  # type: ignore[attr-defined]
        return raw, np.asarray(obs)
    finally:
        env.close()


def draw(raw: list[np.ndarray], stack: np.ndarray, env_id: str, output: Path) -> None:
    """Write the two-row figure to ``output`` (PNG)."""
    fig, axes = plt.subplots(2, 4, figsize=(10, 6.4), gridspec_kw={"height_ratios": [1.25, 1]})
    for i, frame in enumerate(raw):
        ax = axes[0, i]
        ax.imshow(frame, interpolation="nearest")
        step = "t" if i == len(raw) - 1 else f"t-{len(raw) - 1 - i}"
        size = f"{frame.shape[0]}x{frame.shape[1]}x3 RGB"
        ax.set_title(f"raw screen, step {step}\n{size}", fontsize=9)
        ax.axis("off")
    for i in range(stack.shape[0]):
        ax = axes[1, i]
        ax.imshow(stack[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(f"obs[{i}]\n{stack.shape[1]}x{stack.shape[2]} uint8", fontsize=9)
        ax.axis("off")
    fig.suptitle(
        f"{env_id}: four raw screens (top) and the {tuple(stack.shape)} {stack.dtype} "
        "observation the agent sees (bottom)",
        fontsize=10,
    )
    fig.tight_layout(h_pad=2.0)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(output)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="ALE/Pong-v5")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=74)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    raw, stack = collect(args.env_id, args.seed, args.warmup)
    draw(raw, stack, args.env_id, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
