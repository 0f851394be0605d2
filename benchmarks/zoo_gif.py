"""A short GIF of a zoo agent playing, for the docs' home page.

Plays one greedy game of the agent's env through Gymnasium's own ``AtariPreprocessing`` +
``FrameStackObservation(4)`` (what `zoo_agent.py` cross-checks), keeps the emulator's RGB
screen every agent step (every 4th frame: 15 frames per second of game time) for
``--seconds``, and writes an optimised palette GIF with Pillow.

Usage:
    python benchmarks/zoo_gif.py --model zoo/dqn-Pong-v5 --out docs/assets/pong.gif
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from dqn_agents import DQN
from dqn_agents.suite.protocol import gymnasium_atari_env

FPS = 15  # one agent step = 4 emulator frames of a 60 Hz game


def record(agent: DQN, seconds: float, seed: int, skip: float) -> tuple[list[np.ndarray], float]:
    """RGB screens of one greedy game from ``skip`` seconds in, and the game's score."""
    env = gymnasium_atari_env(str(agent.env_id), render_mode="rgb_array")
    obs, _ = env.reset(seed=seed)
    frames: list[np.ndarray] = []
    total, done, step = 0.0, False, 0
    first, last = int(skip * FPS), int((skip + seconds) * FPS)
    while not done:
        action, _ = agent.predict(np.asarray(obs), deterministic=True)
        obs, reward, terminated, truncated, _ = env.step(int(action))
        total += float(reward)
        done = terminated or truncated
        if first <= step < last:
            frame: Any = env.render()
            frames.append(np.asarray(frame))
        step += 1
    env.close()
    return frames, total


def write_gif(frames: list[np.ndarray], path: Path, scale: float) -> None:
    """An optimised, looping palette GIF at ``FPS`` frames per second."""
    from PIL import Image

    images = []
    for frame in frames:
        image = Image.fromarray(frame)
        if scale != 1.0:
            size = (round(image.width * scale), round(image.height * scale))
            image = image.resize(size, Image.Resampling.NEAREST)
        images.append(image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / FPS),
        loop=0,
        optimize=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Record the game and write the GIF."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model folder, zip or zoo repo id")
    parser.add_argument("--out", required=True, help="GIF to write")
    parser.add_argument("--seconds", type=float, default=20.0, help="game time in the GIF")
    parser.add_argument("--skip", type=float, default=10.0, help="game seconds before it")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = Path(args.model)
    agent = (
        DQN.load(path, device="cpu")
        if path.exists()
        else DQN.from_pretrained(args.model, device="cpu")
    )
    frames, score = record(agent, args.seconds, args.seed, args.skip)
    write_gif(frames, Path(args.out), args.scale)
    size = Path(args.out).stat().st_size
    print(f"{args.out}: {len(frames)} frames, {size / 1e6:.2f} MB; the game ended {score:+.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
