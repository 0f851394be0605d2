"""Pure functions of the DQN update: TD targets, losses, schedules, target updates.

Everything here is stateless and side-effect free except the in-place target update
(``soft_update_``, trailing underscore as in torch). Functions on
the hot path avoid temporary allocations where torch / numpy allow it.

Example (one DQN update, paper order):
    >>> import torch
    >>> rewards = torch.tensor([1.0, 0.0]); dones = torch.tensor([0.0, 1.0])
    >>> next_q = torch.tensor([[1.0, 3.0], [5.0, 2.0]])
    >>> td_targets(rewards, next_q, None, dones, 0.9)
    tensor([3.7000, 0.0000])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.config import DQNConfig

__all__ = [
    "epsilon_at",
    "epsilon_greedy",
    "linear_schedule",
    "make_optimizer",
    "q_values_for_actions",
    "soft_update_",
    "td_loss",
    "td_targets",
]


# --------------------------------------------------------------------------- targets
def td_targets(
    rewards: torch.Tensor,
    next_q_target: torch.Tensor,
    next_q_online: torch.Tensor | None,
    dones: torch.Tensor,
    discounts: torch.Tensor | float,
) -> torch.Tensor:
    """Bootstrapped Q-learning targets ``r + discount * (1 - done) * Q'(s', a*)``.

    Plain DQN takes ``a* = argmax_a Q_target(s', a)`` (so the value is the max of the
    target network); Double DQN takes ``a* = argmax_a Q_online(s', a)`` evaluated by
    the target network. Call it under ``torch.no_grad()``.

    Args:
        rewards: ``(B,)`` rewards (the discounted n-step sum for n-step returns).
        next_q_target: ``(B, n_actions)`` Q-values of the next observations from the
            target network (the online network when there is no target network).
        next_q_online: ``(B, n_actions)`` online-network Q-values of the next
            observations for Double DQN, or ``None`` for plain DQN.
        dones: ``(B,)`` 1.0 where the episode terminated (no bootstrap), else 0.0.
            Time-limit truncations are *not* dones.
        discounts: ``(B,)`` per-sample bootstrap discounts (``gamma ** k`` for a k-step
            return) or one float ``gamma``.

    Returns:
        ``(B,)`` float targets.

    Raises:
        ValueError: On mismatched shapes.
    """
    if next_q_target.dim() != 2 or next_q_target.shape[0] != rewards.shape[0]:
        raise ValueError(
            f"next_q_target must be (B, n_actions) with B={rewards.shape[0]}, "
            f"got {tuple(next_q_target.shape)}."
        )
    if next_q_online is None:
        next_values = next_q_target.max(dim=1).values
    else:
        if next_q_online.shape != next_q_target.shape:
            raise ValueError(
                f"next_q_online {tuple(next_q_online.shape)} and next_q_target "
                f"{tuple(next_q_target.shape)} must have the same shape."
            )
        best = next_q_online.argmax(dim=1, keepdim=True)
        next_values = next_q_target.gather(1, best).squeeze(1)
    return rewards + discounts * (1.0 - dones) * next_values


def q_values_for_actions(q_values: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Pick ``Q(s, a)`` for each sample.

    Args:
        q_values: ``(B, n_actions)``.
        actions: ``(B,)`` integer actions (int64).

    Returns:
        ``(B,)`` selected Q-values (differentiable).
    """
    return q_values.gather(1, actions.long().unsqueeze(1)).squeeze(1)


# --------------------------------------------------------------------------- losses
def td_loss(
    prediction: torch.Tensor, target: torch.Tensor, loss: str = "huber", delta: float = 1.0
) -> torch.Tensor:
    """The mean TD loss named by ``DQNConfig.loss``.

    ``"huber"``: quadratic for ``|error| <= delta``, linear beyond; with ``delta = 1`` the
    gradient is the TD error clipped to [-1, 1], the Nature paper's "error clipping" (and
    SB3 / CleanRL's ``smooth_l1_loss``). ``"mse"``: the squared TD error (the 2013 paper's
    loss; CleanRL's too).

    Args:
        prediction: ``(B,)`` Q(s, a).
        target: ``(B,)`` TD targets (no gradient).
        loss: ``"huber"`` or ``"mse"``.
        delta: Huber threshold.

    Returns:
        Scalar loss.

    Raises:
        ValueError: On an unknown loss name.

    Example:
        >>> pred, target = torch.zeros(2), torch.tensor([0.5, 3.0])
        >>> td_loss(pred, target), td_loss(pred, target, "mse")
        (tensor(1.3125), tensor(4.6250))
    """
    if loss == "huber":
        return F.huber_loss(prediction, target, reduction="mean", delta=delta)
    if loss == "mse":
        return F.mse_loss(prediction, target, reduction="mean")
    raise ValueError(f"loss must be 'huber' or 'mse', got {loss!r}.")


# --------------------------------------------------------------------------- schedules
def linear_schedule(initial: float, final: float, duration: int, step: int) -> float:
    """Linear interpolation from ``initial`` (step 0) to ``final`` (step ``duration``).

    Args:
        initial: Value at step 0.
        final: Value from step ``duration`` on.
        duration: Length of the ramp; ``<= 0`` means ``final`` at once.
        step: Current step (>= 0).

    Returns:
        The scheduled value.
    """
    if duration <= 0 or step >= duration:
        return final
    if step <= 0:
        return initial
    return initial + (final - initial) * (step / duration)


def epsilon_at(step: int, config: DQNConfig, total_timesteps: int) -> float:
    """Exploration rate a config prescribes at an agent step.

    Args:
        step: Agent steps taken so far (transitions summed over environments).
        config: The hyperparameters (``exploration_*`` fields).
        total_timesteps: Length of the training run (for ``exploration_fraction``).

    Returns:
        Epsilon.
    """
    return linear_schedule(
        config.exploration_initial_eps,
        config.exploration_final_eps,
        config.exploration_duration(total_timesteps),
        step,
    )


def updates_scheduled(step: int, config: DQNConfig) -> int:
    """Gradient updates a config's replay ratio schedules by an agent step.

    One batch of ``gradient_steps`` updates per ``train_freq`` agent steps after the first
    ``learning_starts`` (none before).

    Args:
        step: Agent steps taken so far (transitions summed over environments).
        config: The hyperparameters (``learning_starts``, ``train_freq``, ``gradient_steps``).

    Returns:
        The number of updates due by ``step``.

    Example:
        >>> from dqn_agents import DQNConfig
        >>> cfg = DQNConfig(learning_starts=100, train_freq=4, gradient_steps=2)
        >>> updates_scheduled(50, cfg), updates_scheduled(109, cfg)
        (0, 4)
    """
    if step <= config.learning_starts:
        return 0
    return ((step - config.learning_starts) // config.train_freq) * config.gradient_steps


def rebased_updates_offset(offset: int, step: int, old: DQNConfig, new: DQNConfig) -> int:
    """The updates offset that keeps a run's update debt when its replay ratio changes.

    The agent owes ``offset + updates_scheduled(step, config) - n_updates`` updates at any
    step. Switching from ``old`` to ``new`` at ``step`` (``DQN.load(path, train_freq=4)``,
    or a new ``agent.config``) keeps that debt, so the past is not owed again at the new
    rate: the new ratio applies from ``step`` on. Unchanged schedules return ``offset``.

    Args:
        offset: The updates offset under ``old``.
        step: The agent step of the change.
        old: The config trained with so far.
        new: The config from ``step`` on.

    Returns:
        The offset under ``new``.

    Example:
        >>> from dqn_agents import DQNConfig
        >>> old = DQNConfig(learning_starts=0, train_freq=8)
        >>> new = old.replace(train_freq=4)
        >>> offset = rebased_updates_offset(0, 800, old, new)  # 100 updates done by then
        >>> offset + updates_scheduled(800, new) - 100, offset + updates_scheduled(808, new) - 100
        (0, 2)
    """
    return offset + updates_scheduled(step, old) - updates_scheduled(step, new)


def epsilon_greedy(
    greedy_actions: Callable[[], npt.ArrayLike],
    n: int,
    n_actions: int,
    epsilon: float,
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:
    """Vectorised epsilon-greedy action selection (the one used to train, predict and evaluate).

    Each of the ``n`` rows acts uniformly at random with probability ``epsilon``, greedily
    otherwise. The generator is advanced the same way whatever the greedy actions are (one
    ``random`` and one ``integers`` draw per row), so runs are reproducible from its seed;
    ``greedy_actions`` (the forward pass) is called only when some row acts greedily.

    Args:
        greedy_actions: Returns the ``(n,)`` greedy actions (e.g. ``argmax_a Q(s, a)``).
        n: Rows (envs or observations).
        n_actions: Size of the action set.
        epsilon: Probability of a random action, in [0, 1].
        rng: numpy generator.

    Returns:
        ``(n,)`` int64 actions.

    Example:
        >>> q = np.array([[0.0, 1.0], [2.0, 0.0]])
        >>> epsilon_greedy(lambda: q.argmax(1), 2, 2, 0.0, np.random.default_rng(0))
        array([1, 0])
    """
    explore = rng.random(n) < epsilon
    actions = rng.integers(n_actions, size=n, dtype=np.int64)
    if explore.all():
        return actions
    return np.where(explore, actions, np.asarray(greedy_actions(), dtype=np.int64))


# --------------------------------------------------------------------------- targets nets
@torch.no_grad()
def soft_update_(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak update ``target <- tau * online + (1 - tau) * target``, in place.

    Floating-point buffers are averaged too; other buffers are copied.

    Args:
        target: Network updated in place.
        online: Network read.
        tau: Interpolation weight in (0, 1]; 1 copies ``online`` (a hard update).
    """
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {tau}.")
    target_params: list[torch.Tensor] = list(target.parameters())
    online_params: list[torch.Tensor] = list(online.parameters())
    if len(target_params) != len(online_params):
        raise ValueError(
            f"target has {len(target_params)} parameter tensors, online {len(online_params)}."
        )
    if tau == 1.0:
        torch._foreach_copy_(target_params, online_params)
    else:
        torch._foreach_lerp_(target_params, online_params, tau)
    _update_buffers(target.buffers(), online.buffers(), tau)


def _update_buffers(
    target: Iterable[torch.Tensor], online: Iterable[torch.Tensor], tau: float
) -> None:
    for t, o in zip(target, online, strict=True):
        if tau < 1.0 and t.is_floating_point():
            t.lerp_(o, tau)
        else:
            t.copy_(o)


# --------------------------------------------------------------------------- optimizer
def make_optimizer(
    parameters: Iterable[torch.nn.Parameter], config: DQNConfig
) -> torch.optim.Optimizer:
    """Build the optimizer a config names (``torch.optim.Adam`` or ``RMSprop``).

    Args:
        parameters: Parameters of the online network.
        config: Hyperparameters (``optimizer``, ``learning_rate``, ``optimizer_kwargs``).

    Returns:
        The optimizer.
    """
    kwargs = dict(config.optimizer_kwargs)
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate, **kwargs)  # type: ignore[arg-type]
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=config.learning_rate, **kwargs)  # type: ignore[arg-type]
    raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {config.optimizer!r}.")
