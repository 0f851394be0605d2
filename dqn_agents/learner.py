"""The DQN gradient update and its fast paths (used by `dqn_agents.DQN`).

One update is the same algorithm on every device: sample a minibatch, TD targets from the
target network (no gradient), Huber/MSE loss on ``Q(s, a)``, backward, optional
gradient-norm clipping, optimizer step. What changes per device is how the minibatch
reaches the network and how often the host waits for the device:

* **Batches.** On CPU the replay gathers the minibatch into preallocated numpy arrays
  that share memory with torch tensors (no per-update allocation, no copy). On CUDA the
  host arrays are pinned and copied with ``non_blocking=True``; with a frame replay the
  frames can instead live on the GPU (`dqn_agents.device_replay.DeviceFrameStore`), so
  stacks are gathered on the device and only a few index bytes cross the bus.
* **Optimizer.** Adam runs fused (one kernel over all parameters) where this torch
  supports it: on CPU that alone turns a ~14 ms ``_single_tensor_adam`` step of the
  Nature CNN into ~1 ms (measured on the 2-core benchmark machine). Gradient clipping
  uses the ``foreach`` kernels of ``clip_grad_norm_`` without its per-call regrouping
  (its Python bookkeeping costs more than the kernels on a small MLP).
* **Memory format.** On CPU image batches are fed channels-last (oneDNN's preferred
  layout), about 10 % faster forward + backward for the Nature CNN; the weights keep
  their layout, so saved files are unchanged.
* **Syncs.** ``loss.item()`` makes the host wait for the device. On CPU it costs
  nothing, so the loss is checked every update (a NaN stops training *before* the
  optimizer step); on CUDA the loss is summed on the device and checked every
  ``sync_every`` updates.

Example:
    >>> import torch
    >>> net = torch.nn.Linear(4, 2)
    >>> opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    >>> isinstance(enable_fused_optimizer(opt), bool)
    True
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dqn_agents.device_replay import DeviceFrameStore
from dqn_agents.functional import td_loss, td_targets

__all__ = ["Learner", "cnn_cpu_threads", "enable_fused_optimizer", "idle_cores"]

#: Updates between two host/device syncs of the loss on CUDA.
CUDA_SYNC_EVERY = 100


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _cpu_ticks() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return values[3] + values[4], sum(values)  # idle + iowait, all


def idle_cores(window: float = 0.1) -> float | None:
    """How many CPU cores were idle during the last ``window`` seconds (Linux).

    Read from ``/proc/stat`` (the instantaneous picture, unlike the load average that
    lags by a minute).

    Args:
        window: Seconds to watch.

    Returns:
        Idle cores (0 .. available cores), or ``None`` where ``/proc/stat`` is missing.
    """
    try:
        idle0, all0 = _cpu_ticks()
        time.sleep(window)
        idle1, all1 = _cpu_ticks()
    except (OSError, ValueError, IndexError):
        return None
    if all1 <= all0:
        return None
    return (idle1 - idle0) / (all1 - all0) * _available_cores()


def cnn_cpu_threads(max_threads: int = 8) -> int:
    """Torch threads for CNN updates on CPU: the cores that are idle right now.

    On an idle machine every core helps the batch-32 convolutions (the env steps run
    between updates, not during them). On a shared machine, threads that wait for
    preempted siblings make an update many times slower (measured on 2 busy cores: 1
    thread 94 ms, 2 threads 630 ms per Nature-CNN update), so only the idle cores are
    used, at least 1.

    Args:
        max_threads: Upper bound (batch-32 updates stop scaling around 8 threads).

    Returns:
        The thread count.
    """
    cores = _available_cores()
    idle = idle_cores()
    if idle is None:
        return max(1, min(max_threads, cores // 2))
    return max(1, min(max_threads, cores, int(idle + 0.25)))


def _fused_supported(device: torch.device) -> bool:
    probe = torch.zeros(1, device=device, requires_grad=True)
    try:
        torch.optim.Adam([probe], lr=1e-3, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def enable_fused_optimizer(optimizer: torch.optim.Optimizer) -> bool:
    """Switch an Adam optimizer to its fused implementation, in place, when supported.

    Nothing changes when the optimizer is not ``torch.optim.Adam``, when the user chose
    ``foreach``/``fused``/``differentiable``/``capturable`` explicitly, or when this torch
    has no fused Adam for the parameters' device (fused CPU Adam needs torch >= 2.4).
    Existing optimizer state is kept (step counters move to the parameters' device, as
    fused Adam expects).

    Args:
        optimizer: The optimizer (typically ``DQN.optimizer``).

    Returns:
        Whether the optimizer is fused now.
    """
    if type(optimizer) is not torch.optim.Adam:
        return False
    groups = optimizer.param_groups
    if all(g.get("fused") for g in groups):
        return True
    if any(g.get("foreach") or g.get("differentiable") or g.get("capturable") for g in groups):
        return False
    params = [p for g in groups for p in g["params"]]
    if not params:
        return False
    devices = {p.device for p in params}
    dtypes = {p.dtype for p in params}
    if len(devices) != 1 or not dtypes <= {torch.float32, torch.float64, torch.float16}:
        return False
    device = next(iter(devices))
    if not _fused_supported(device):
        return False
    for group in groups:
        group["fused"] = True
        group["foreach"] = None
    for state in optimizer.state.values():
        step = state.get("step")
        if isinstance(step, torch.Tensor):
            state["step"] = step.to(device=device, dtype=torch.float32)
    return True


class Learner:
    """Runs DQN gradient updates for an agent's networks and optimizer.

    Args:
        q_net: The online network (trained).
        q_net_target: The target network, or ``None`` (targets from the online network).
        optimizer: The optimizer of ``q_net``'s parameters (switched to fused Adam when
            supported, see `enable_fused_optimizer`).
        config: The agent's `dqn_agents.config.DQNConfig` (``double_q``, ``loss``,
            ``huber_delta``, ``max_grad_norm``).
        device: The networks' device.
        image: Whether observations are image stacks (channels-last on CPU).
        fused: Try fused Adam.
        device_replay: Keep a frame replay's frames on the device
            (`dqn_agents.device_replay.DeviceFrameStore`); ``None``: on CUDA only.

    Attributes:
        sync_every: Updates between two loss checks (1 on CPU, `CUDA_SYNC_EVERY` on CUDA).
        fused: Whether the optimizer runs fused.
    """

    def __init__(
        self,
        q_net: torch.nn.Module,
        q_net_target: torch.nn.Module | None,
        optimizer: torch.optim.Optimizer,
        config: Any,
        device: torch.device,
        *,
        image: bool = False,
        fused: bool = True,
        device_replay: bool | None = None,
    ) -> None:
        self.q_net = q_net
        self.q_net_target = q_net_target
        self.optimizer = optimizer
        self.config = config
        self.device = device
        self.cuda = device.type == "cuda"
        self.channels_last = bool(image) and device.type == "cpu"
        self.sync_every = CUDA_SYNC_EVERY if self.cuda else 1
        self.fused = enable_fused_optimizer(optimizer) if fused else False
        self._params = [p for g in optimizer.param_groups for p in g["params"]]
        # One device and one dtype (always the case for a QNetwork): the lean clip applies.
        self._uniform_params = len({(p.device, p.dtype) for p in self._params}) <= 1
        self._pending: torch.Tensor | None = None
        self._pending_count = 0
        self.device_replay = self.cuda if device_replay is None else bool(device_replay)
        self.store: DeviceFrameStore | None = None

    def _store_for(self, replay: Any) -> DeviceFrameStore | None:
        if not self.device_replay:
            return None
        if self.store is not None and self.store.replay is replay:
            return self.store
        self.store = None
        if not isinstance(getattr(replay, "frames", None), np.ndarray):
            return None
        try:
            self.store = DeviceFrameStore(replay, self.device)
        except torch.cuda.OutOfMemoryError:
            warnings.warn(
                f"The replay frames ({replay.frames.nbytes / 2**30:.1f} GiB) do not fit on "
                f"{self.device}; sampling on the host instead (pinned copies).",
                RuntimeWarning,
                stacklevel=3,
            )
            self.device_replay = False
        return self.store

    def batch(
        self,
        replay: Any,
        rng: np.random.Generator,
        batch_size: int,
        host_buffers: Callable[[], tuple[Any, tuple[torch.Tensor, ...]]],
    ) -> tuple[torch.Tensor, ...]:
        """Sample a minibatch onto the device.

        Indices come from ``replay.sample_indices(batch_size, rng)`` on every path, so
        the same seed gives the same batches. With a device store the stacks are gathered
        on the device; otherwise ``replay.get_batch`` fills the preallocated host arrays
        of ``host_buffers()`` (numpy views of torch tensors, pinned on CUDA), copied with
        `to_device`.

        Args:
            replay: The replay buffer.
            rng: numpy generator of the agent.
            batch_size: Minibatch size.
            host_buffers: Returns ``(ReplayBatch of numpy views, torch tensors)``.

        Returns:
            ``(obs, actions, rewards, next_obs, dones, discounts)`` on the device.
        """
        store = self._store_for(replay)
        if store is not None:
            obs, actions, rewards, next_obs, dones, discounts = store.sample(batch_size, rng)
            if self.channels_last:
                obs = obs.contiguous(memory_format=torch.channels_last)
                next_obs = next_obs.contiguous(memory_format=torch.channels_last)
            return obs, actions, rewards, next_obs, dones, discounts
        out, host = host_buffers()
        replay.get_batch(replay.sample_indices(batch_size, rng), out=out)
        return self.to_device(host)

    def to_device(self, host: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """Move a host minibatch ``(obs, actions, rewards, next_obs, dones, discounts)``.

        Args:
            host: CPU tensors (pinned on CUDA for asynchronous copies).

        Returns:
            The tensors on the learner's device (channels-last image stacks on CPU).
        """
        if self.device.type == "cpu":
            obs, actions, rewards, next_obs, dones, discounts = host
            if self.channels_last:
                obs = obs.contiguous(memory_format=torch.channels_last)
                next_obs = next_obs.contiguous(memory_format=torch.channels_last)
            return obs, actions, rewards, next_obs, dones, discounts
        return tuple(t.to(self.device, non_blocking=True) for t in host)

    def update(self, batch: tuple[torch.Tensor, ...], check: bool) -> float | None:
        """One gradient update on a device minibatch.

        Args:
            batch: ``(obs, actions, rewards, next_obs, dones, discounts)`` on the device.
            check: Read the loss on the host now (sum of the losses since the last check).
                A non-finite value is returned *before* the optimizer step, so the
                caller can stop with the weights of the last good update.

        Returns:
            The summed loss since the last check when ``check`` (its count is
            `pending_count` + 1 before the call), else ``None``.
        """
        cfg = self.config
        obs, actions, rewards, next_obs, dones, discounts = batch
        with torch.no_grad():
            target_net = self.q_net_target if self.q_net_target is not None else self.q_net
            next_q_target = target_net(next_obs)
            next_q_online = self.q_net(next_obs) if cfg.double_q else None
            targets = td_targets(rewards, next_q_target, next_q_online, dones, discounts)
        q_values = self.q_net(obs).gather(1, actions.long().unsqueeze(1)).squeeze(1)
        loss = td_loss(q_values, targets, cfg.loss, cfg.huber_delta)
        value: float | None = None
        if check:
            total = loss.detach() if self._pending is None else self._pending + loss.detach()
            value = float(total.item())
            self._pending, self._pending_count = None, 0
            if not np.isfinite(value):
                return value
        else:
            detached = loss.detach()
            self._pending = detached.clone() if self._pending is None else self._pending + detached
            self._pending_count += 1
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm is not None:
            self._clip(cfg.max_grad_norm)
        self.optimizer.step()
        return value

    def _clip(self, max_norm: float) -> None:
        """``clip_grad_norm_(params, max_norm, foreach=True)``, the same kernels, less Python.

        Torch's function regroups the gradients by device and dtype on every call; with
        one device and one dtype (always the case here) that bookkeeping costs more than
        the kernels on a small network. Other layouts go through torch's function.
        """
        if not self._uniform_params:
            torch.nn.utils.clip_grad_norm_(self._params, max_norm, foreach=True)
            return
        grads = [p.grad for p in self._params if p.grad is not None]
        if not grads:
            return
        norms = torch._foreach_norm(grads, 2.0)
        total = torch.linalg.vector_norm(torch.stack(norms), 2.0)
        torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))

    @property
    def pending_count(self) -> int:
        """Losses summed on the device and not read yet."""
        return self._pending_count
