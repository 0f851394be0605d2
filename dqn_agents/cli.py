"""The ``dqn-agents`` command line: ``train``, ``evaluate``, ``enjoy`` (+ ``push`` from the hub).

Examples (shell)::

    dqn-agents train ALE/Pong-v5 --preset nature2015 --timesteps 10_000_000 --seed 1
    dqn-agents train CartPole-v1 --config cartpole.toml --timesteps 50_000
    dqn-agents evaluate runs/ALE-Pong-v5-20260101-120000/model.zip --episodes 10 --json
    dqn-agents evaluate dqn-agents/dqn-Pong-v5  # org/name: downloaded from the Hub
    dqn-agents evaluate hf://org/name          # always the Hub; ./org/name: always a folder
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

from dqn_agents.argtypes import count, positive_count, probability
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


def _config_arguments(args: argparse.Namespace) -> tuple[str, dict[str, Any], Any]:
    """``(preset, DQNConfig overrides, wrapper_options)`` from --config, --preset and --set.

    --preset wins over the file's ``preset``; each --set KEY=VALUE (a JSON value) wins over
    the file's field of that name.
    """
    settings: dict[str, Any] = load_config_file(args.config) if args.config else {}
    preset = args.preset or settings.pop("preset", None) or "default"
    settings.pop("preset", None)
    wrapper_options = settings.pop("wrapper_options", None)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}.")
        settings[key.strip()] = _parse_value(value)
    return str(preset), settings, wrapper_options


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --preset and --set, shared by train and suite."""
    parser.add_argument("--config", metavar="FILE", help="JSON/TOML: preset + overrides")
    parser.add_argument(
        "--preset", metavar="NAME", help=f"one of {', '.join(sorted(PRESETS))} (else default)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one hyperparameter (JSON value), repeatable",
    )


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
        type=positive_count,
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
    _add_config_arguments(train)
    train.add_argument("--seed", type=int, default=None, help="seed of everything random")
    train.add_argument(
        "--output", metavar="DIR", help="run folder (default: runs/<env>-<time>-<pid>)"
    )
    train.add_argument(
        "--num-envs", type=positive_count, default=None, metavar="N", help="parallel envs"
    )
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    train.add_argument(
        "--checkpoint-freq",
        type=count,
        default=100_000,
        metavar="STEPS",
        help="agent steps between checkpoints in <run>/checkpoints (0 = off)",
    )
    train.add_argument(
        "--log-interval",
        type=count,
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
    evaluate.add_argument(
        "path",
        metavar="PATH_OR_REPO",
        help="model .zip or folder (must exist), or a Hub repo: org/name or hf://org/name "
        "(an org/name that also exists here is refused: write ./org/name or hf://org/name)",
    )
    evaluate.add_argument(
        "--episodes", type=positive_count, default=10, metavar="N", help="full games to play"
    )
    evaluate.add_argument(
        "--epsilon",
        type=probability,
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
    enjoy.add_argument(
        "path", metavar="PATH_OR_REPO", help="as for evaluate: a local model or a Hub repo"
    )
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
        type=positive_count,
        default=27_000,
        metavar="N",
        help="stop the game after N agent steps",
    )
    enjoy.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    enjoy.set_defaults(func=_cmd_enjoy)

    _add_suite_parsers(sub, defaults)
    _register_plugins(sub)
    return parser


def _add_suite_parsers(sub: Any, defaults: type[argparse.HelpFormatter]) -> None:
    """``suite`` (games x seeds on Ray, `dqn_agents.suite.run_suite`) and ``suite-report``."""
    suite = sub.add_parser(
        "suite",
        help="train games x seeds on Ray (this machine or a cluster), evaluate, push",
        description="Train every game with every seed on Ray Tune (local Ray unless --address), "
        "evaluate each finished run, write the table and learning curves; needs the ray extra.",
        formatter_class=defaults,
    )
    suite.add_argument("--games", metavar="G1,G2", help="e.g. Pong,Breakout or CartPole-v1")
    suite.add_argument("--seeds", type=positive_count, default=3, help="seeds per game (0..N-1)")
    suite.add_argument(
        "--timesteps",
        type=positive_count,
        default=DEFAULT_TIMESTEPS,
        metavar="N",
        help="agent steps per run",
    )
    _add_config_arguments(suite)
    suite.add_argument("--cpus-per-trial", type=float, default=1.0, metavar="N")
    suite.add_argument(
        "--gpus-per-trial",
        type=float,
        default=0.0,
        metavar="F",
        help="GPUs per run; 0.25 puts four runs on a GPU",
    )
    suite.add_argument(
        "--max-concurrent",
        type=positive_count,
        default=None,
        metavar="N",
        help="most runs at once (default: as the resources allow)",
    )
    suite.add_argument(
        "--address",
        default=None,
        help="Ray cluster: auto, ray://host:10001 (default: start Ray here)",
    )
    suite.add_argument(
        "--storage",
        default=None,
        metavar="DIR",
        help="experiments folder, shared by all nodes (default: runs/suite)",
    )
    suite.add_argument("--name", default=None, help="experiment name (default: suite-<time>)")
    suite.add_argument(
        "--push-org",
        default=None,
        metavar="ORG",
        help="push each finished model to ORG/dqn-<game>-seed<k>",
    )
    suite.add_argument(
        "--resume",
        action="store_true",
        help="continue the stopped suite --storage/--name (newest if no --name)",
    )
    suite.add_argument(
        "--eval-episodes",
        type=positive_count,
        default=20,
        metavar="N",
        help="greedy full games per finished run (the zoo's protocol)",
    )
    suite.add_argument("--video", action="store_true", help="record replay.mp4 per model")
    suite.add_argument(
        "--max-failures",
        type=count,
        default=2,
        metavar="N",
        help="retries of a failing run, from its last checkpoint",
    )
    suite.add_argument("--checkpoint-every", type=positive_count, default=None, metavar="STEPS")
    suite.add_argument(
        "--save-replay",
        action="store_true",
        help="checkpoints include the replay memory (GBs per run on Atari)",
    )
    suite.add_argument(
        "--num-cpus",
        type=positive_count,
        default=None,
        help="CPUs of the Ray started here (default: all)",
    )
    suite.set_defaults(func=_cmd_suite)

    report = sub.add_parser(
        "suite-report",
        help="re-render the table and plot of a suite run (finished or partial)",
        description="Rewrite suite_table.csv/.json and learning_curves.png of a suite's "
        "experiment folder and print the table; needs no Ray.",
        formatter_class=defaults,
    )
    report.add_argument("path", metavar="PATH", help="the experiment folder <storage>/<name>")
    report.add_argument("--json", action="store_true", help="print the JSON table")
    report.set_defaults(func=_cmd_suite_report)


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
    from dqn_agents.hub.pull import resolve_source  # the one local-or-Hub rule

    local, repo_id = resolve_source(path)
    if local is not None:
        return DQN.load(local, env=env, device=device)
    return DQN.from_pretrained(str(repo_id), env=env, device=device)


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
    from dqn_agents.replay import check_replay_memory
    from dqn_agents.serialization import atomic_write

    if args.resume:
        return _resume(args)
    if not args.env_id:
        raise ValueError("train needs an ENV_ID (e.g. ALE/Pong-v5), or --resume RUN_DIR.")
    preset, settings, wrapper_options = _config_arguments(args)
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
    # The run folder is made only once the agent is built and its replay memory is known
    # to fit in memory: a bad id, config or size leaves none.
    check_replay_memory(
        agent.observation_space, agent.config.buffer_size, agent.n_envs, agent.config.batch_size
    )
    made_output = not (args.output and os.path.exists(args.output))
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
    try:
        return _train(agent, run, timesteps, args, save_replay=bool(args.save_replay))
    except Exception:
        if made_output:
            _remove_if_no_results(run)
        raise


def _remove_if_no_results(run: Path) -> None:
    """Delete a new run folder that holds no model, replay or checkpoint (a failed start)."""
    import shutil

    results = [run / "model.zip", run / REPLAY_FILE]
    checkpoints = run / "checkpoints"
    if any(p.exists() for p in results) or (checkpoints.is_dir() and any(checkpoints.iterdir())):
        return
    shutil.rmtree(run, ignore_errors=True)
    print(f"removed {run}: the run failed before it saved anything", file=sys.stderr)


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
        if agent.num_timesteps == 0:  # failed before its first step: nothing to keep
            raise
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

        name = args.path.removeprefix("hf://").rstrip("/")
        out = args.video or str(Path(name).with_suffix("")) + ".mp4"
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


def _cmd_suite(args: argparse.Namespace) -> int:
    from dqn_agents.suite import EvalProtocol, RayMissingError, run_suite

    preset, settings, wrapper_options = _config_arguments(args)
    if not args.resume and not args.games:
        raise ValueError("suite needs --games (e.g. --games Pong,Breakout), or --resume.")
    try:
        outcome = run_suite(
            args.games,
            args.seeds,
            args.timesteps,
            preset=preset,
            overrides=settings,
            wrapper_options=wrapper_options,
            protocol=EvalProtocol(episodes=args.eval_episodes, video=args.video),
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            storage_path=args.storage,
            name=args.name,
            push_to=args.push_org,
            address=args.address,
            resume=args.resume,
            max_failures=args.max_failures,
            max_concurrent=args.max_concurrent,
            checkpoint_every=args.checkpoint_every,
            save_replay=args.save_replay,
            num_cpus=args.num_cpus,
        )
    except RayMissingError as exc:
        print(f"dqn-agents suite: error: {exc}", file=sys.stderr)
        return 2
    return outcome.exit_status


def _cmd_suite_report(args: argparse.Namespace) -> int:
    from dqn_agents.suite import render_report

    report = render_report(args.path)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    print(report.format_table())
    for what, path in report.files.items():
        print(f"{what}: {path}")
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
        message = " ".join(str(exc).split())  # one line, whatever the error spans
        print(f"dqn-agents {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
