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
* **Precision.** ``config.precision == "bf16"`` runs the update's forward passes under
  bfloat16 ``torch.autocast`` (opt-in: it changes the numerics); the Q-values are cast
  back to float32 before the targets and the loss, and the weights, gradients and
  optimizer state stay float32. A warning says so when this device has no fast bf16
  (`dqn_agents.devices.bf16_is_fast`).
* **Syncs.** ``loss.item()`` makes the host wait for the device. On CPU it costs
  nothing, so the loss is checked every update (a NaN stops training *before* the
  optimizer step); on CUDA the loss is summed on the device and read every
  ``sync_every`` updates (``nan_check_every``). Between two reads no step is taken on a
  bad loss either: each step is guarded on the device (`Learner.step_unless`), so once
  the running sum is NaN/inf the optimizer steps are skipped, with no host sync, until
  the next read raises `NonFiniteLossError`. The weights and optimizer state are those of
  the last update before the first non-finite loss.

Example:
    >>> import torch
    >>> net = torch.nn.Linear(4, 2)
    >>> opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    >>> isinstance(enable_fused_optimizer(opt), bool)
    True
"""

from __future__ import annotations

import contextlib
import math
import warnings
import weakref
from typing import Any

import numpy as np
import torch

from dqn_agents.device_replay import DeviceFrameStore
from dqn_agents.devices import bf16_is_fast
from dqn_agents.functional import q_values_for_actions, soft_update_, td_loss, td_targets

__all__ = ["Learner", "NonFiniteLossError", "enable_fused_optimizer"]

#: Updates between two host/device syncs of the loss on CUDA.
CUDA_SYNC_EVERY = 100

#: Optimizers whose fused step takes a device ``found_inf`` flag and then changes nothing
#: (no weight, moment or step count), the way ``torch.amp.GradScaler`` skips a step.
_FOUND_INF_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)


class NonFiniteLossError(FloatingPointError):
    """The TD loss became NaN or infinite; training stopped (the message names the step)."""


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
    """Owns the whole DQN update: minibatch staging, loss, NaN check, counts, target sync.

    The agent's loop calls `train` with the replay and its generator; everything an update
    needs between two calls (staging buffers, the loss not read yet, the update count)
    lives here.

    Args:
        q_net: The online network (trained).
        q_net_target: The target network, or ``None`` (targets from the online network).
        optimizer: The optimizer of ``q_net``'s parameters (switched to fused Adam when
            supported, see `enable_fused_optimizer`).
        config: The agent's `dqn_agents.config.DQNConfig` (``batch_size``, ``double_q``,
            ``loss``, ``huber_delta``, ``max_grad_norm``, ``target_update_interval``,
            ``tau``). The agent keeps it current when its config changes.
        device: The networks' device.
        image: Whether observations are image stacks (channels-last on CPU).
        fused: Try fused Adam.
        device_replay: Keep a frame replay's frames on the device
            (`dqn_agents.device_replay.DeviceFrameStore`); ``None``: on CUDA only.
        nan_check_every: Updates between two reads of the loss on the host (each read is
            a host/device sync); ``None``: 1 on CPU, `CUDA_SYNC_EVERY` on CUDA. Steps in
            between are guarded on the device (`step_unless`), so a non-finite loss never
            reaches the weights whatever the value.

    Attributes:
        n_updates: Gradient updates done so far (saved with the training state).
        sync_every: Updates between two loss checks (``nan_check_every``).
        fused: Whether the optimizer runs fused.
        bf16: Whether the forward passes run under bfloat16 autocast
            (``config.precision == "bf16"``).

    Raises:
        ValueError: ``nan_check_every`` is not a whole number >= 1.
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
        nan_check_every: int | None = None,
    ) -> None:
        if nan_check_every is not None and (
            isinstance(nan_check_every, bool)
            or not isinstance(nan_check_every, int | np.integer)
            or nan_check_every < 1
        ):
            raise ValueError(
                f"nan_check_every must be a whole number >= 1 (updates between two loss "
                f"checks), got {nan_check_every!r}."
            )
        self.q_net = q_net
        self.q_net_target = q_net_target
        self.config = config
        self.device = device
        self.cuda = device.type == "cuda"
        self.channels_last = bool(image) and device.type == "cpu"
        default_every = CUDA_SYNC_EVERY if self.cuda else 1
        self.sync_every = default_every if nan_check_every is None else int(nan_check_every)
        self.try_fused = fused
        self.optimizer = optimizer
        self.n_updates = 0
        self.loss_sum = 0.0
        self.loss_count = 0
        self._pending: torch.Tensor | None = None
        self._pending_count = 0
        self.device_replay = self.cuda if device_replay is None else bool(device_replay)
        self.store: DeviceFrameStore | None = None
        self._staging: tuple[Any, tuple[torch.Tensor, ...]] | None = None
        self._staging_for: tuple[weakref.ref[Any], int] | None = None
        self.bf16 = config.precision == "bf16"
        if self.bf16 and bf16_is_fast(device) is False:
            warnings.warn(
                f"precision='bf16' on {device}, which has no native bfloat16 arithmetic "
                "(CPUs need avx512_bf16 or amx_bf16): the updates will run several times "
                "slower than with precision='float32'.",
                UserWarning,
                stacklevel=2,
            )

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The optimizer (setting one switches it to fused Adam when supported)."""
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        self._optimizer = optimizer
        self.fused = enable_fused_optimizer(optimizer) if self.try_fused else False
        self._params = [p for g in optimizer.param_groups for p in g["params"]]
        # One device and one dtype (always the case for a QNetwork): the lean clip applies.
        self._uniform_params = len({(p.device, p.dtype) for p in self._params}) <= 1
        self._takes_found_inf = type(optimizer) in _FOUND_INF_OPTIMIZERS and all(
            g.get("fused") for g in optimizer.param_groups
        )

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        """Load a saved optimizer ``state_dict``, keeping this config's hyperparameters.

        The moment estimates and step counts come from ``state``; the learning rate,
        betas... stay the current ones, so overrides given to ``DQN.load`` take effect.

        Args:
            state: An optimizer ``state_dict`` of the same optimizer class.
        """
        optimizer = self._optimizer
        fresh = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
        optimizer.load_state_dict(state)
        for group, hyper in zip(optimizer.param_groups, fresh, strict=True):
            group.update(hyper)
        self.optimizer = optimizer  # re-fuse: fused Adam wants its step counts on the device

    # ------------------------------------------------------------------ minibatches
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

    def _host_buffers(self, replay: Any) -> tuple[Any, tuple[torch.Tensor, ...]]:
        """Preallocated minibatch arrays (numpy views of torch tensors; pinned on CUDA)."""
        batch_size = int(self.config.batch_size)
        made_for = self._staging_for
        if (
            self._staging is None
            or made_for is None
            or made_for[0]() is not replay
            or made_for[1] != batch_size
        ):
            template = replay.allocate_batch(batch_size)
            tensors = tuple(
                torch.empty(a.shape, dtype=torch.from_numpy(a[:0]).dtype, pin_memory=self.cuda)
                for a in template
            )
            self._staging = (type(template)(*(t.numpy() for t in tensors)), tensors)
            # a weak reference: a replaced (GB-sized) replay is not kept alive by its buffers
            self._staging_for = (weakref.ref(replay), batch_size)
        return self._staging

    def sample(self, replay: Any, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """Sample a minibatch of ``config.batch_size`` onto the device.

        Indices come from ``replay.sample_indices(batch_size, rng)`` on every path, so
        the same seed gives the same batches. With a device store the stacks are gathered
        on the device; otherwise ``replay.get_batch`` fills preallocated host arrays
        (numpy views of torch tensors, pinned on CUDA), copied with `to_device`.

        Args:
            replay: The replay buffer.
            rng: numpy generator of the agent.

        Returns:
            ``(obs, actions, rewards, next_obs, dones, discounts)`` on the device.
        """
        batch_size = int(self.config.batch_size)
        store = self._store_for(replay)
        if store is not None:
            obs, actions, rewards, next_obs, dones, discounts = store.sample(batch_size, rng)
            if self.channels_last:
                obs = obs.contiguous(memory_format=torch.channels_last)
                next_obs = next_obs.contiguous(memory_format=torch.channels_last)
            return obs, actions, rewards, next_obs, dones, discounts
        out, host = self._host_buffers(replay)
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

    # ------------------------------------------------------------------ updates
    def train(
        self, replay: Any, rng: np.random.Generator, n: int, *, step: int | None = None
    ) -> None:
        """Run ``n`` full updates: sample, update, NaN check, count, target sync.

        Args:
            replay: The replay buffer to sample from.
            rng: The agent's numpy generator (sampling order is reproducible from it).
            n: Updates to run.
            step: The agent step, for the message of a non-finite loss.

        Raises:
            NonFiniteLossError: The loss became NaN/inf; no optimizer step was taken on
                it (the check is read every `sync_every` updates; the steps since the first
                non-finite loss were skipped on the device).
        """
        cfg = self.config
        for _ in range(n):
            count = self._pending_count + 1
            check = (self.n_updates + 1) % self.sync_every == 0
            loss_sum = self.update(self.sample(replay, rng), check=check)
            if loss_sum is not None:
                self._account(loss_sum, count, step, self.n_updates + 1)
            self.n_updates += 1
            # Every C updates: target network <- online network (hard, or Polyak if tau < 1).
            if self.q_net_target is not None and self.n_updates % cfg.target_update_interval == 0:
                soft_update_(self.q_net_target, self.q_net, cfg.tau)

    def _account(self, loss_sum: float, count: int, step: int | None, update: int) -> None:
        """Add a loss read on the host to the log sums, or stop on a non-finite one."""
        if not math.isfinite(loss_sum):
            where = "" if step is None else f" at step {step}"
            since = (
                ""
                if count <= 1
                else f"; one of the {count} updates since the previous check, whose steps "
                "were skipped from the first non-finite loss on"
            )
            raise NonFiniteLossError(
                f"The TD loss is {loss_sum}{where} (gradient update {update}{since}); "
                f"training stopped. Lower learning_rate, keep max_grad_norm set, or check the "
                f"rewards/observations for NaN/inf."
            )
        self.loss_sum += loss_sum
        self.loss_count += count

    def check_pending(self, step: int | None = None) -> None:
        """Read the losses summed on the device since the last check (a host sync).

        Call it where training pauses (the end of ``learn``, before a save): a non-finite
        loss of the last few updates is reported now instead of at the next check. The
        weights are finite either way (those steps were skipped, see `step_unless`).

        Args:
            step: The agent step, for the message.

        Raises:
            NonFiniteLossError: One of the pending losses was NaN/inf.
        """
        if self._pending is None:
            return
        count = self._pending_count
        value = float(self._pending.item())
        self._pending, self._pending_count = None, 0
        self._account(value, count, step, self.n_updates)

    def pop_mean_loss(self) -> float | None:
        """The mean loss of the updates since the last call (``None`` when there were none).

        Returns:
            The mean TD loss, for the log table.
        """
        if not self.loss_count:
            return None
        mean = self.loss_sum / self.loss_count
        self.loss_sum, self.loss_count = 0.0, 0
        return mean

    def update(self, batch: tuple[torch.Tensor, ...], check: bool) -> float | None:
        """One gradient update on a device minibatch (no counting: see `train`).

        Args:
            batch: ``(obs, actions, rewards, next_obs, dones, discounts)`` on the device.
            check: Read the loss on the host now (sum of the losses since the last check).
                A non-finite value is returned *before* the optimizer step, so the
                caller can stop with the weights of the last good update. Without a
                check the step is guarded on the device: it is skipped when the sum of
                the losses since the last check (this one included) is not finite.

        Returns:
            The summed loss since the last check when ``check`` (its count is
            `pending_count` + 1 before the call), else ``None``.
        """
        cfg = self.config
        obs, actions, rewards, next_obs, dones, discounts = batch
        # Entering even a disabled autocast costs a few us: a no-op context in float32.
        precision = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if self.bf16
            else contextlib.nullcontext()
        )
        with precision:
            with torch.no_grad():
                target_net = self.q_net_target if self.q_net_target is not None else self.q_net
                next_q_target = target_net(next_obs).float()
                next_q_online = self.q_net(next_obs).float() if cfg.double_q else None
                targets = td_targets(rewards, next_q_target, next_q_online, dones, discounts)
            q_all = self.q_net(obs).float()
        q_values = q_values_for_actions(q_all, actions)
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
        self._optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm is not None:
            self.clip_gradients(cfg.max_grad_norm)
        if check:
            self._optimizer.step()
        else:
            # Not read yet: skip on the device once the running sum is NaN/inf (no sync).
            assert self._pending is not None
            self.step_unless(torch.isfinite(self._pending).logical_not())
        return value

    def step_unless(self, skip: torch.Tensor) -> None:
        """Take the optimizer step unless the device flag ``skip`` is set, without a sync.

        The flag is never read on the host. Fused Adam, AdamW and SGD take it as their
        ``found_inf`` input (what ``torch.amp.GradScaler`` uses): the kernel then changes
        nothing, step counts included. Other optimizers (RMSprop, foreach or
        single-tensor Adam) run on zeroed gradients and the parameters and the optimizer
        state on their device are put back where the flag is set; a step counter the
        optimizer keeps on another device (non-capturable RMSprop's CPU ``step`` on CUDA)
        still counts the skipped step.

        Args:
            skip: A boolean scalar tensor on the parameters' device.
        """
        optimizer = self._optimizer
        if self._takes_found_inf:
            optimizer.found_inf = skip.to(torch.float32)  # type: ignore[attr-defined]
            try:
                optimizer.step()
            finally:
                del optimizer.found_inf  # type: ignore[attr-defined]
            return
        grads = [p.grad for p in self._params if p.grad is not None]
        for grad in grads:
            grad.masked_fill_(skip, 0.0)  # NaN gradients never reach the moment estimates
        saved = [t for t in self._params if t.device == skip.device]
        for p in self._params:
            saved.extend(
                v
                for v in optimizer.state.get(p, {}).values()
                if isinstance(v, torch.Tensor) and v.device == skip.device
            )
        with torch.no_grad():
            backup = [t.detach().clone() for t in saved]
            optimizer.step()
            for tensor, old in zip(saved, backup, strict=True):
                torch.where(skip, old, tensor, out=tensor.data)

    def clip_gradients(self, max_norm: float) -> None:
        """``clip_grad_norm_(params, max_norm, foreach=True)``, the same kernels, less Python.

        Torch's function regroups the gradients by device and dtype on every call; with
        one device and one dtype (always the case here) that bookkeeping costs more than
        the kernels on a small network. Other layouts go through torch's function.

        Args:
            max_norm: The largest total gradient norm allowed.
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
