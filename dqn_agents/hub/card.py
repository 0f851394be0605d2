"""Model cards (``README.md``) and ``results.json`` for pushed agents.

The card's YAML header (``huggingface_hub``'s ``ModelCardData``) carries the
``model-index`` block the Hub's RL leaderboards read; the body holds usage, evaluation,
training configuration and hardware.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from dqn_agents.hub.errors import require_huggingface_hub

__all__ = [
    "LIBRARY_NAME",
    "build_card_data",
    "build_model_card",
    "build_results",
    "effective_config",
    "effective_wrapper_options",
    "format_metric",
    "hardware_info",
]

LIBRARY_NAME = "dqn-agents"
BASE_TAGS = ("reinforcement-learning", "deep-reinforcement-learning", "dqn")


def format_metric(mean: float, std: float) -> str:
    """The ``metric_value`` string the Hub RL leaderboards parse.

    Example:
        >>> format_metric(20.5, 0.5)
        '20.50 +/- 0.50'
    """
    return f"{mean:.2f} +/- {std:.2f}"


def hardware_info() -> dict[str, Any]:
    """Describe this machine: OS, CPU, core count, torch version and GPU (if any).

    Returns:
        JSON-able dict.
    """
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return info


def build_results(
    *,
    env_id: str | None,
    mean_reward: float,
    std_reward: float,
    n_eval_episodes: int,
    is_deterministic: bool,
    wrapper_options: Mapping[str, Any] | None,
    scores: list[float] | None = None,
    episode_lengths: list[int] | None = None,
    eval_datetime: str | None = None,
) -> dict[str, Any]:
    """The ``results.json`` content (the keys SB3's hub tooling writes, plus ours).

    Args:
        env_id: The evaluation env id.
        mean_reward: Mean raw game score.
        std_reward: Standard deviation of the raw game score.
        n_eval_episodes: Number of full games played.
        is_deterministic: Greedy actions (no exploration) during evaluation.
        wrapper_options: The Atari wrapper options of the evaluation env.
        scores: Per-episode raw scores.
        episode_lengths: Per-episode lengths (agent steps).
        eval_datetime: ISO time; default now (UTC).

    Returns:
        JSON-able dict.

    Example:
        >>> r = build_results(env_id="CartPole-v1", mean_reward=500.0, std_reward=0.0,
        ...                   n_eval_episodes=2, is_deterministic=True, wrapper_options=None)
        >>> r["mean_reward"], r["env_id"]
        (500.0, 'CartPole-v1')
    """
    results: dict[str, Any] = {
        "env_id": env_id,
        "mean_reward": float(mean_reward),
        "std_reward": float(std_reward),
        "n_eval_episodes": int(n_eval_episodes),
        "is_deterministic": bool(is_deterministic),
        "eval_datetime": eval_datetime or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "score_type": "raw game score (unclipped, full games)",
        "wrapper_options": dict(wrapper_options) if wrapper_options is not None else None,
    }
    if scores is not None:
        results["scores"] = [float(s) for s in scores]
    if episode_lengths is not None:
        results["episode_lengths"] = [int(n) for n in episode_lengths]
    return results


def build_card_data(
    meta: Mapping[str, Any], results: Mapping[str, Any], *, model_name: str = "DQN"
) -> Any:
    """The card's metadata as a ``huggingface_hub.ModelCardData``.

    Args:
        meta: The model's ``config.json``.
        results: The ``results.json`` content.
        model_name: Name in the ``model-index`` block.

    Returns:
        ``ModelCardData`` with library name, tags and the ``mean_reward`` eval result.
    """
    hf = require_huggingface_hub()
    env_id = results.get("env_id") or meta.get("env_id") or "unknown-env"
    tags = [*BASE_TAGS, str(env_id)]
    if "/" in str(env_id) or "NoFrameskip" in str(env_id):
        tags.append("atari")
    eval_result = hf.EvalResult(
        task_type="reinforcement-learning",
        task_name="reinforcement-learning",
        dataset_type=str(env_id),
        dataset_name=str(env_id),
        metric_type="mean_reward",
        metric_name="mean_reward",
        metric_value=format_metric(float(results["mean_reward"]), float(results["std_reward"])),
        verified=False,
    )
    return hf.ModelCardData(
        library_name=LIBRARY_NAME,
        tags=tags,
        model_name=model_name,
        eval_results=[eval_result],
        license=meta.get("license"),
    )


def effective_config(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The config as the model runs: the network kind resolved, MLP sizes only for MLPs.

    Args:
        meta: The model's ``config.json``.

    Returns:
        The ``config`` fields to show (``network: auto`` becomes the kind that was built).
    """
    config = dict(meta.get("config") or {})
    kind = (meta.get("network") or {}).get("kind")
    if kind:
        config["network"] = kind
        if kind != "mlp":
            config.pop("mlp_hidden_sizes", None)
    return config


def effective_wrapper_options(
    env_id: str, options: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """Wrapper options with the id's defaults filled in (sticky actions: 0.25 for v5 ids).

    Args:
        env_id: The env id.
        options: The saved ``wrapper_options`` (``None`` values mean "the id's default").

    Returns:
        The options as the env was built, or ``None``.
    """
    if not options:
        return None
    shown = dict(options)
    if shown.get("repeat_action_probability") is None:
        from dqn_agents.wrappers.ids import is_atari_id, resolve_env_id

        if is_atari_id(env_id):
            shown["repeat_action_probability"] = resolve_env_id(
                env_id
            ).default_repeat_action_probability
    return shown


def _table(rows: Mapping[str, Any]) -> str:
    lines = ["| key | value |", "|---|---|"]
    for key, value in rows.items():
        text = json.dumps(value) if isinstance(value, (dict, list, tuple)) else str(value)
        escaped = text.replace("|", "\\|")
        lines.append(f"| `{key}` | {escaped} |")
    return "\n".join(lines)


def build_model_card(
    meta: Mapping[str, Any],
    results: Mapping[str, Any],
    repo_id: str,
    *,
    hardware: Mapping[str, Any] | None = None,
    has_video: bool = False,
    training: Mapping[str, Any] | None = None,
) -> str:
    """Build the ``README.md`` model card.

    Args:
        meta: The model's ``config.json`` (hyperparameters, env, wrapper options, versions).
        results: The ``results.json`` content (raw game scores).
        repo_id: Where the model is published (for the usage snippet).
        hardware: Hardware description; default `hardware_info` of this machine
            (training hardware from ``meta["hardware"]`` is shown too when recorded).
        has_video: Whether a ``replay.mp4`` is part of the commit.
        training: The training run, when known: ``command`` (the exact command that
            reproduces it), ``curve`` (an image file in the folder), ``log`` (the
            per-game log file), and any facts to tabulate (minutes, steps, updates, date,
            machine...).

    Returns:
        The card text (YAML header + markdown), parseable by ``huggingface_hub.ModelCard``.
    """
    data = build_card_data(meta, results)
    env_id = results.get("env_id") or meta.get("env_id") or "unknown-env"
    mean, std = float(results["mean_reward"]), float(results["std_reward"])
    n_episodes = results.get("n_eval_episodes")
    config = effective_config(meta)
    wrapper_options = effective_wrapper_options(
        env_id, results.get("wrapper_options") or meta.get("wrapper_options")
    )
    trained_on = meta.get("hardware")
    evaluated_on = dict(hardware) if hardware is not None else hardware_info()
    steps = meta.get("num_timesteps")
    sections = [
        f"# DQN agent playing {env_id}",
        "",
        f"A Deep Q-Network (Mnih et al. 2013/2015) trained with "
        f"[dqn-agents](https://github.com/dqn-agents/dqn-agents) on `{env_id}`"
        + (f" for {steps:,} agent steps." if isinstance(steps, int) else "."),
        "",
        "## Evaluation",
        "",
        f"Mean raw game score: **{mean:.2f} +/- {std:.2f}** over {n_episodes} full "
        f"{'game' if n_episodes == 1 else 'games'} "
        f"({'greedy' if results.get('is_deterministic', True) else 'stochastic'} actions, "
        f"unclipped rewards, evaluated {results.get('eval_datetime', '')}).",
        "",
    ]
    if has_video:
        sections += ["A replay of one evaluation game: `replay.mp4`.", ""]
    sections += [
        "## Usage",
        "",
        "```python",
        "from dqn_agents import DQN",
        "",
        f'agent = DQN.from_pretrained("{repo_id}")',
        "result = agent.evaluate(10)  # raw game scores",
        "print(result.mean, result.std)",
        "```",
        "",
        "or from the command line:",
        "",
        "```bash",
        'pip install "dqn-agents[hub]"',
        f"dqn-agents evaluate {repo_id}",
        "```",
        "",
        "The weights are `model.safetensors` and everything else is JSON: loading never "
        "unpickles anything.",
        "",
        "## Training configuration",
        "",
        _table(config) if config else "(not recorded)",
        "",
    ]
    if training:
        facts = {k: v for k, v in training.items() if k not in ("command", "curve", "log")}
        sections += ["## Training run", ""]
        if training.get("curve"):
            sections += [f"![Learning curve]({training['curve']})", ""]
        if facts:
            sections += [_table(facts), ""]
        if training.get("log"):
            sections += [f"Every finished training game is in `{training['log']}`.", ""]
        if training.get("command"):
            sections += ["Reproduce it:", "", "```bash", str(training["command"]), "```", ""]
    if wrapper_options:
        sections += ["## Environment wrapper options", "", _table(wrapper_options), ""]
    if trained_on:
        sections += ["## Training hardware", "", _table(trained_on), ""]
    sections += ["## Evaluation hardware", "", _table(evaluated_on), ""]
    versions = meta.get("versions")
    if versions:
        sections += ["## Library versions", "", _table(versions), ""]
    body = "\n".join(sections)
    return f"---\n{data.to_yaml()}\n---\n\n{body}"
