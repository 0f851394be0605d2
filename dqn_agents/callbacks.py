"""Run Stable-Baselines3's own callbacks in `DQN.learn` (a thin adapter, no base classes).

SB3 callbacks (`EvalCallback`, `CheckpointCallback`, `StopTrainingOnRewardThreshold`,
`StopTrainingOnNoModelImprovement`, `StopTrainingOnMaxEpisodes`, `EveryNTimesteps`,
`ProgressBarCallback`, `CallbackList`, plain functions) only talk to their ``model``
through a small duck-typed surface, which `dqn_agents.DQN` provides:

* attributes: ``num_timesteps``, ``logger``, ``replay_buffer``;
* methods: ``get_env()`` (an SB3 ``VecEnv`` view with ``num_envs``),
  ``get_vec_normalize_env()`` (always ``None``), ``save(path)``,
  ``save_replay_buffer(path)``, ``dump_logs()``, ``predict(obs, ...)``.

and read the training loop's ``locals``: ``dones``, ``infos``, ``rewards``, ``new_obs``,
``actions``, ``total_timesteps``, ``tb_log_name``. `init_callback` mirrors
``BaseAlgorithm._init_callback`` of SB3 (a list becomes a ``CallbackList``, a function a
``ConvertCallback``, ``progress_bar=True`` appends a ``ProgressBarCallback``) and binds
the callback to the agent. The loop keeps **one** locals dict (`new_locals`) and
mutates it in place each step, so no ``locals()`` snapshot is built per step.

Example:
    >>> from dqn_agents import DQN
    >>> calls = []
    >>> def on_step(locals_, globals_):
    ...     calls.append(locals_["dones"].shape)
    ...     return True
    >>> _ = DQN("CartPole-v1", learning_starts=10, buffer_size=100).learn(5, callback=on_step)
    >>> calls[0]
    (1,)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stable_baselines3.common.callbacks import (
    BaseCallback,
    CallbackList,
    ConvertCallback,
    ProgressBarCallback,
)

__all__ = ["MaybeCallback", "init_callback", "new_locals"]

MaybeCallback = (
    None | Callable[[dict[str, Any], dict[str, Any]], bool] | list[BaseCallback] | BaseCallback
)
"""What ``DQN.learn(callback=...)`` accepts (the same as SB3's ``MaybeCallback``)."""


def init_callback(callback: Any, model: Any, progress_bar: bool = False) -> BaseCallback:
    """Normalise ``callback`` into one SB3 ``BaseCallback`` bound to ``model``.

    Args:
        callback: ``None``, a function ``f(locals, globals) -> bool``, an SB3 callback, or a
            list of them.
        model: The agent (duck-typed as SB3's ``BaseAlgorithm``).
        progress_bar: Append SB3's ``ProgressBarCallback`` (tqdm + rich).

    Returns:
        The callback, with ``init_callback(model)`` done.

    Raises:
        TypeError: ``callback`` is none of the accepted kinds.

    Example:
        >>> cb = init_callback(None, model=object())
        >>> type(cb).__name__
        'CallbackList'
    """
    if callback is None:
        callback = CallbackList([])
    elif isinstance(callback, list):
        callback = CallbackList(callback)
    elif not isinstance(callback, BaseCallback):
        if not callable(callback):
            raise TypeError(
                "callback must be an SB3 BaseCallback, a list of them, or a function "
                f"f(locals, globals) -> bool; got {type(callback).__name__}."
            )
        callback = ConvertCallback(callback)
    if progress_bar:
        callback = CallbackList([callback, ProgressBarCallback()])
    callback.init_callback(model)
    return callback


def new_locals(total_timesteps: int, tb_log_name: str, model: Any) -> dict[str, Any]:
    """The one ``locals`` dict the training loop shares with its callbacks.

    Args:
        total_timesteps: The run's target ``num_timesteps``.
        tb_log_name: TensorBoard run name (``StopTrainingOnMaxEpisodes`` prints it).
        model: The agent (SB3 exposes it as ``locals["self"]``).

    Returns:
        A dict with every key SB3 callbacks read, to be updated in place each step.

    Example:
        >>> sorted(new_locals(10, "DQN", None))[:4]
        ['actions', 'callback', 'dones', 'infos']
    """
    return {
        "self": model,
        "total_timesteps": total_timesteps,
        "tb_log_name": tb_log_name,
        "callback": None,
        "actions": None,
        "new_obs": None,
        "rewards": None,
        "dones": None,
        "infos": [],
        "log_interval": None,
    }
