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

import time
from collections.abc import Callable
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ConvertCallback

__all__ = ["MaybeCallback", "ProgressBar", "close_progress_bars", "init_callback", "new_locals"]

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
        callback = CallbackList([callback, ProgressBar()])
    callback.init_callback(model)
    return callback


class ProgressBar(BaseCallback):
    """A progress bar whose time estimate comes from the training phase.

    SB3's ``ProgressBarCallback`` estimates the remaining time from the speed so far, which
    during the random warm-up (no gradient updates, many times faster) promised hours for
    runs that take a day. This bar says "warm-up" until ``learning_starts``, then restarts
    its clock, so the ETA is the speed of training proper. It closes when training ends,
    also on Ctrl-C or an error (before the caller prints anything).

    Attributes:
        training_from: The step at which the clock restarted (``None`` during warm-up).
        closed: Whether the bar was closed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bar: Any = None
        self.training_from: int | None = None
        self.closed = False

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        self.first = int(self.model.num_timesteps)
        total = int(self.locals["total_timesteps"]) - self.first
        self.bar = tqdm(total=total, unit="step", dynamic_ncols=True, smoothing=0.0)
        agent: Any = self.model  # a dqn_agents.DQN (SB3 types it as its BaseAlgorithm)
        self.learning_starts = int(agent.config.learning_starts)
        if self.first >= self.learning_starts:
            self.training_from = self.first
        else:
            self.bar.set_postfix_str("warm-up (random actions): ETA once training starts")

    def _on_step(self) -> bool:
        done = int(self.model.num_timesteps) - self.first
        if self.training_from is None and self.model.num_timesteps >= self.learning_starts:
            self.training_from = int(self.model.num_timesteps)
            self.bar.set_postfix_str("")
            self.bar.initial, self.bar.n = done, done  # rate = (n - initial) / elapsed
            self.bar.start_t = self.bar.last_print_t = time.time()
        self.bar.update(done - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the bar (once)."""
        if self.bar is not None and not self.closed:
            self.bar.close()
        self.closed = True


def close_progress_bars(callback: BaseCallback) -> None:
    """Close every `ProgressBar` inside ``callback`` (learn calls it when it stops early).

    Args:
        callback: What `init_callback` returned.
    """
    stack = [callback]
    while stack:
        current = stack.pop()
        if isinstance(current, ProgressBar):
            current.close()
        stack.extend(getattr(current, "callbacks", []))


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
