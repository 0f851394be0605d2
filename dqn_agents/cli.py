"""The ``dqn-agents`` command line: ``train``, ``evaluate``, ``enjoy`` (+ ``push`` from the hub).

Examples (shell)::

    dqn-agents train ALE/Pong-v5 --preset nature2015 --timesteps 10_000_000 --seed 1
    dqn-agents train CartPole-v1 --config cartpole.toml --timesteps 50_000
    dqn-agents evaluate runs/ALE-Pong-v5-20260101-120000/model.zip --episodes 10 --json
    dqn-agents evaluate sb3/some-repo          # not a local path: downloaded from the Hub
    dqn-agents enjoy runs/.../model.zip --video pong.mp4

``train`` writes one run folder (``runs/<env>-<timestamp>/`` unless ``--output``)::

    run/
      config.json         # the resolved hyperparameters, env id and wrapper options
      checkpoints/        # model_<steps>_steps.zip every --checkpoint-freq steps
      logs/               # progress.csv + TensorBoard events (SB3 logger)
      model.zip           # the final model (also written on Ctrl-C)

A ``--config`` file (JSON or TOML) holds an optional ``preset`` name, `DQNConfig`
fields, and optionally a ``wrapper_options`` table; ``--preset`` and ``--set key=value``
override it. Other packages add sub-commands without editing this file: if
``dqn_agents.hub.cli`` exists, its ``register(subparsers)`` is called (the parser it
returns sets ``func``).

Example:
    >>> parser = build_parser()
    >>> args = parser.parse_args(["train", "CartPole-v1", "--timesteps", "1000"])
    >>> args.command, args.timesteps
    ('train', 1000)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dqn_agents.config import PRESETS

__all__ = ["DEFAULT_TIMESTEPS", "build_parser", "load_config_file", "main"]

DEFAULT_TIMESTEPS = 1_000_000
"""Agent steps of ``dqn-agents train`` when neither ``--timesteps`` nor a resumed run says."""
RUN_FILE = "config.json"
REPLAY_FILE = "replay.npz"


class _DefaultsFormatter(argparse.HelpFormatter):
    """Show each option's default in ``--help``, except empty ones (None, False, [])."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        empty = action.default in (None, False, [], argparse.SUPPRESS)
        if "%(default)" in text or empty or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _whole(text: str, minimum: int) -> int:
    """A whole number written as ``10000``, ``10_000`` or ``1e4``, at least ``minimum``."""
    cleaned = text.strip().replace("_", "")
    try:
        value = int(cleaned)
    except ValueError:
        try:
            number = float(cleaned)
        except ValueError:
            number = float("nan")
        if not number.is_integer():
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected a whole number (e.g. 10000, 10_000 or 1e4)"
            ) from None
        value = int(number)
    if value < minimum:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: must be >= {minimum}")
    return value


def _int(text: str) -> int:
    return _whole(text, 0)


def _positive_int(text: str) -> int:
    return _whole(text, 1)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: must be between 0 and 1")
    return value


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input or an unreachable Hub: a message, exit status 2."""
    errors: list[type[BaseException]] = [
        ValueError,
        TypeError,
        FileNotFoundError,
        IsADirectoryError,
        NotADirectoryError,
        PermissionError,
    ]
    try:
        from dqn_agents.hub import HubError
    except ImportError:  # pragma: no cover - the hub extra is part of the package
        pass
    else:
        errors.append(HubError)
    return tuple(errors)


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON or TOML training config (``preset`` + DQNConfig fields + options).

    Args:
        path: A ``.json`` or ``.toml`` file.

    Returns:
        The parsed mapping.

    Raises:
        ValueError: Unknown suffix or invalid content (the message names the file).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "c.json")
        >>> _ = open(p, "w").write('{"preset": "default", "learning_rate": 0.001}')
        >>> load_config_file(p)
        {'preset': 'default', 'learning_rate': 0.001}
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"--config {p} is a folder; pass a .json or .toml file.")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix == ".json":
            data = json.loads(text)
        elif p.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # pragma: no cover - python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            data = tomllib.loads(text)
        else:
            raise ValueError(f"--config {p}: use a .json or .toml file, got {p.suffix!r}.")
    except (json.JSONDecodeError, ValueError) as exc:
        raise ValueError(f"--config {p}: cannot parse it: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"--config {p}: expected a table/object, got {type(data).__name__}.")
    return data


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_parser() -> argparse.ArgumentParser:
    """Build the ``dqn-agents`` argument parser (with plug-in sub-commands).

    Returns:
        The parser.
    """
    from dqn_agents.version import __version__

    parser = argparse.ArgumentParser(
        prog="dqn-agents",
        description="DQN (Mnih et al. 2013/2015) for Gymnasium: train, evaluate, play.",
    )
    parser.add_argument("--version", action="version", version=f"dqn-agents {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = _DefaultsFormatter

    train = sub.add_parser(
        "train", help="train an agent", description="Train a DQN agent.", formatter_class=defaults
    )
    train.add_argument(
        "env_id", metavar="ENV_ID", nargs="?", help="e.g. ALE/Pong-v5 or CartPole-v1"
    )
    train.add_argument(
        "--timesteps",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"agent steps to train in total (default: {DEFAULT_TIMESTEPS}, or the resumed "
        "run's; 10000, 10_000 and 1e4 all work)",
    )
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue an interrupted run from its newest model (and replay memory)",
    )
    train.add_argument(
        "--save-replay",
        action="store_true",
        help="also save the replay memory (GBs on Atari) with checkpoints and at the end, "
        "so --resume continues exactly",
    )
    train.add_argument("--config", metavar="FILE", help="JSON/TOML: preset + overrides")
    train.add_argument(
        "--preset", metavar="NAME", help=f"one of {', '.join(sorted(PRESETS))} (else default)"
    )
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one hyperparameter (JSON value), repeatable",
    )
    train.add_argument("--seed", type=int, default=None, help="seed of everything random")
    train.add_argument(
        "--output", metavar="DIR", help="run folder (default: runs/<env>-<time>-<pid>)"
    )
    train.add_argument(
        "--num-envs", type=_positive_int, default=None, metavar="N", help="parallel envs"
    )
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    train.add_argument(
        "--checkpoint-freq",
        type=_int,
        default=100_000,
        metavar="STEPS",
        help="agent steps between checkpoints in <run>/checkpoints (0 = off)",
    )
    train.add_argument(
        "--log-interval",
        type=_int,
        default=4,
        metavar="GAMES",
        help="finished games between two log tables (0 = never)",
    )
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.add_argument("--quiet", action="store_true", help="no log table on stdout")
    train.set_defaults(func=_cmd_train)

    evaluate = sub.add_parser(
        "evaluate",
        help="evaluate a saved agent (raw game scores)",
        description="Play full games with a saved agent and print the raw mean/std score.",
        formatter_class=defaults,
    )
    evaluate.add_argument("path", metavar="PATH_OR_REPO", help="model .zip, folder or Hub repo")
    evaluate.add_argument(
        "--episodes", type=_positive_int, default=10, metavar="N", help="full games to play"
    )
    evaluate.add_argument(
        "--epsilon",
        type=_probability,
        default=0.0,
        help="probability of a random action: 0 is greedy, like evaluate() and push; the "
        "Nature paper's protocol used 0.05",
    )
    evaluate.add_argument(
        "--deterministic",
        action="store_true",
        help="greedy play (the default; same as --epsilon 0)",
    )
    evaluate.add_argument("--seed", type=int, default=None, help="seed of the evaluation env")
    evaluate.add_argument("--env", default=None, metavar="ENV_ID", help="override the env id")
    evaluate.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(func=_cmd_evaluate)

    enjoy = sub.add_parser(
        "enjoy",
        help="play one game: print its score, or record it (--video)",
        description=(
            "Play one game with an agent and print its raw score; with --video, record the "
            "game screen to an mp4 to watch (no window is opened)."
        ),
        formatter_class=defaults,
    )
    enjoy.add_argument("path", metavar="PATH_OR_REPO")
    enjoy.add_argument(
        "--video",
        nargs="?",
        const="",
        default=None,
        metavar="OUT.mp4",
        help="record the game to an mp4 (default <model>.mp4)",
    )
    enjoy.add_argument("--seed", type=int, default=None, help="seed of the env reset")
    enjoy.add_argument(
        "--max-steps",
        type=_positive_int,
        default=27_000,
        metavar="N",
        help="stop the game after N agent steps",
    )
    enjoy.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    enjoy.set_defaults(func=_cmd_enjoy)

    _register_plugins(sub)
    return parser


def _register_plugins(subparsers: Any) -> None:
    for module_name in ("dqn_agents.hub.cli",):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)


def _load_agent(path: str, device: str, env: str | None = None) -> Any:
    from dqn_agents.agent import DQN

    if os.path.exists(path) or os.path.exists(path + ".zip"):
        return DQN.load(path, env=env, device=device)
    if re.fullmatch(r"[\w.-]+/[\w.-]+", path):
        return DQN.from_pretrained(path, env=env, device=device)
    raise FileNotFoundError(f"{path}: no such file or folder, and not a Hub repo id (org/name).")


def _run_dir(env_id: str, output: str | None) -> Path:
    """The run folder, created now; a default name is never shared by two runs."""
    if output:
        run = Path(output)
        run.mkdir(parents=True, exist_ok=True)
        return run
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", env_id).strip("-")
    base = Path("runs") / f"{safe}-{stamp}-{os.getpid()}"
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        run = base if n == 0 else base.with_name(f"{base.name}-{n}")
        try:
            run.mkdir()  # atomic: a parallel run gets another name
        except FileExistsError:
            continue
        return run
    raise FileExistsError(f"{base}: no free run folder name")


def _cmd_train(args: argparse.Namespace) -> int:
    from stable_baselines3.common.logger import configure

    from dqn_agents.agent import DQN
    from dqn_agents.config import DQNConfig
    from dqn_agents.serialization import atomic_write

    if args.resume:
        return _resume(args)
    if not args.env_id:
        raise ValueError("train needs an ENV_ID (e.g. ALE/Pong-v5), or --resume RUN_DIR.")
    settings: dict[str, Any] = load_config_file(args.config) if args.config else {}
    preset = args.preset or settings.pop("preset", None) or "default"
    settings.pop("preset", None)
    wrapper_options = settings.pop("wrapper_options", None)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}.")
        settings[key.strip()] = _parse_value(value)
    config = DQNConfig.preset(preset, **settings)
    timesteps = args.timesteps or DEFAULT_TIMESTEPS
    agent = DQN(
        args.env_id,
        config,
        wrapper_options=wrapper_options,
        num_envs=args.num_envs,
        seed=args.seed,
        device=args.device,
    )
    # The run folder is made only once the agent is built: a bad id or config leaves none.
    run = _run_dir(args.env_id, args.output)
    formats = ["csv", "tensorboard"] if args.quiet else ["stdout", "csv", "tensorboard"]
    agent.set_logger(configure(str(run / "logs"), formats))
    with atomic_write(run / RUN_FILE, "w") as handle:
        json.dump(
            {
                "env_id": agent.env_id,
                "preset": preset,
                "config": agent.config.to_dict(),
                "wrapper_options": agent.wrapper_options,
                "seed": args.seed,
                "timesteps": timesteps,
                "save_replay": bool(args.save_replay),
            },
            handle,
            indent=2,
        )
    print(f"run folder: {run}", flush=True)
    return _train(agent, run, timesteps, args, save_replay=bool(args.save_replay))


def _train(
    agent: Any, run: Path, timesteps: int, args: argparse.Namespace, *, save_replay: bool
) -> int:
    """Learn until ``timesteps`` in total; save the model (and replay) however it ends."""
    from stable_baselines3.common.callbacks import CheckpointCallback

    checkpoint = None
    if args.checkpoint_freq > 0:
        checkpoint = CheckpointCallback(
            max(args.checkpoint_freq // max(agent.n_envs, 1), 1),
            str(run / "checkpoints"),
            name_prefix="model",
            save_replay_buffer=save_replay,
        )

    def save() -> str:
        path = agent.save(run / "model.zip")
        if save_replay and agent.replay_buffer is not None:
            return f"{path} and {agent.save_replay_buffer(run / REPLAY_FILE)}"
        return str(path)

    remaining = timesteps - agent.num_timesteps
    if remaining < 1:
        print(f"{run}: already at step {agent.num_timesteps} of {timesteps}; nothing to do.")
        return 0
    try:
        agent.learn(
            remaining,
            callback=checkpoint,
            log_interval=args.log_interval or None,
            progress_bar=not args.no_progress,
            reset_num_timesteps=agent.num_timesteps == 0,
        )
    except KeyboardInterrupt:
        saved = save()
        print(
            f"\ninterrupted at step {agent.num_timesteps}; saved {saved}. Continue with:\n"
            f"  dqn-agents train --resume {run}",
            file=sys.stderr,
        )
        return 130
    except Exception:
        # The weights are those of the last good update (a NaN loss stops before its step).
        # Saving must not hide the error that stopped training: it is re-raised either way.
        try:
            saved = save()
        except (OSError, ValueError) as exc:  # e.g. weights refused as non-finite
            print(
                f"training failed at step {agent.num_timesteps}; not saved: {exc}", file=sys.stderr
            )
        else:
            print(f"training failed at step {agent.num_timesteps}; saved {saved}", file=sys.stderr)
        raise
    print(f"saved {save()}")
    return 0


def _latest_model(run: Path) -> tuple[Path, Path | None]:
    """The newest model of a run folder and the replay memory saved with it, if any."""
    candidates = [p for p in (run / "checkpoints").glob("model_*_steps.zip")]
    if (run / "model.zip").is_file():
        candidates.append(run / "model.zip")
    if not candidates:
        raise FileNotFoundError(
            f"{run}: no model.zip and no checkpoints/model_*_steps.zip to resume from."
        )
    newest = max(candidates, key=lambda p: p.stat().st_mtime_ns)
    if newest.name == "model.zip":
        replay = run / REPLAY_FILE
    else:
        steps = newest.name.removeprefix("model_").removesuffix("_steps.zip")
        replay = run / "checkpoints" / f"model_replay_buffer_{steps}_steps.npz"
    return newest, replay if replay.is_file() else None


def _resume(args: argparse.Namespace) -> int:
    from stable_baselines3.common.logger import configure

    from dqn_agents.agent import DQN

    run = Path(args.resume)
    try:
        saved = json.loads((run / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{run} is not a run folder of dqn-agents train (no {RUN_FILE})."
        ) from None
    if args.env_id and args.env_id != saved.get("env_id"):
        raise ValueError(
            f"{run} trains {saved.get('env_id')!r}, not {args.env_id!r}; leave ENV_ID out."
        )
    model, replay = _latest_model(run)
    agent = DQN.load(model, device=args.device)
    timesteps = args.timesteps or int(saved.get("timesteps") or DEFAULT_TIMESTEPS)
    if replay is not None:
        agent.load_replay_buffer(replay)
        what = f"replay memory {replay.name}"
    else:
        what = "no replay memory (learn refills it first; --save-replay keeps it next time)"
    print(
        f"resuming {run} from {model.name} at step {agent.num_timesteps} of {timesteps}, {what}",
        flush=True,
    )
    formats = ["csv", "tensorboard"] if args.quiet else ["stdout", "csv", "tensorboard"]
    agent.set_logger(configure(str(run / f"logs-from-{agent.num_timesteps}"), formats))
    save_replay = bool(args.save_replay or saved.get("save_replay"))
    return _train(agent, run, timesteps, args, save_replay=save_replay)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    agent = _load_agent(args.path, args.device, None)
    epsilon = 0.0 if args.deterministic else args.epsilon
    result = agent.evaluate(args.episodes, env=args.env, epsilon=epsilon, seed=args.seed)
    if args.json:
        out = {"model": args.path, "env_id": args.env or agent.env_id, "epsilon": epsilon}
        out.update(result.to_dict())
        print(json.dumps(out))
    else:
        print(
            f"{args.env or agent.env_id}: raw score {result.mean:.2f} +/- {result.std:.2f} over "
            f"{len(result.scores)} episodes (epsilon {epsilon})"
        )
    return 0


def _cmd_enjoy(args: argparse.Namespace) -> int:
    agent = _load_agent(args.path, args.device, None)
    if args.video is not None:
        from dqn_agents.evaluation import record_video

        out = args.video or str(Path(args.path.rstrip("/")).with_suffix("")) + ".mp4"
        path = record_video(agent, out, seed=args.seed, max_steps=args.max_steps)
        print(f"video: {path}")
        return 0
    from dqn_agents.evaluation import StepLimitError, evaluate

    try:
        result = evaluate(agent, 1, seed=args.seed, max_steps=args.max_steps)
    except StepLimitError:
        print(f"{agent.env_id}: the game did not end within --max-steps {args.max_steps} steps")
        return 0
    print(f"{agent.env_id}: raw score {result.mean:.2f} in {result.lengths[0]} steps")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dqn-agents`` script.

    Args:
        argv: Arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status (0 on success, 2 on bad input, 130 on Ctrl-C).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except _user_errors() as exc:
        print(f"dqn-agents {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
