"""Experience replay that stores each Atari frame once.

Two buffers share one interface (``add`` / ``sample`` / ``sample_indices`` /
``get_batch`` / ``save`` / ``load``); `make_replay_buffer` picks the right one:

* `FrameReplayBuffer` for stacked uint8 images ``(k, H, W)`` (e.g. ``(4, 84, 84)``).
* `VectorReplayBuffer` for anything else (e.g. CartPole's 4 floats): plain ``obs`` and
  ``next_obs`` arrays, like SB3's ``ReplayBuffer``.

Memory layout of `FrameReplayBuffer` (Dopamine style)
-----------------------------------------------------
A stacked observation ``(f_{t-3}, f_{t-2}, f_{t-1}, f_t)`` shares three of its four
frames with its neighbours, so storing ``obs`` and ``next_obs`` (SB3's default:
56,448 bytes per transition at 4x84x84) or even only ``obs`` (SB3's
``optimize_memory_usage``: 28,224 bytes) stores every frame 8 or 4 times. This buffer
stores each frame **once**; stacks are rebuilt at sample time by one vectorised gather.

The capacity is split evenly between the ``num_envs`` environment streams (like SB3):
each stream is a ring of ``env_capacity = capacity // num_envs`` *slots*. Per slot:

| array | dtype / shape | bytes |
|---|---|---|
| ``frames`` | uint8 ``(H, W)``: the newest frame of the slot's observation | 7,056 |
| ``actions`` | int32 | 4 |
| ``rewards`` | float32 | 4 |
| ``terminated``, ``truncated``, ``valid`` | bool | 3 |
| ``ep_pos`` | uint8: frames of the episode before this one, capped at k-1 | 1 |
| ``pad_mode`` | uint8: how the stack is padded before the episode's first frame | 1 |

= 7,069 bytes per slot at 84x84. A transition ``t`` of an episode sits in slot ``i``:
``frames[i]`` is the newest frame of ``obs_t``; its ``next_obs`` newest frame is in
slot ``i + 1``, written ahead by the same ``add`` call, so the newest transition can be
sampled at once. The stack of slot ``i`` is ``frames[i-k+1 .. i]``, where positions
before the episode's first frame are replaced by the episode's *padding*:

* ``pad_mode = 0``: zeros (our wrappers, SB3 ``VecFrameStack``, ale-py
  ``AtariVectorEnv``, gymnasium ``FrameStackObservation(padding_type="zero")``);
* ``pad_mode = 1``: the episode's first frame repeated (``padding_type="reset"``);
* anything else: the k-1 padding frames of the reset observation are written into k-1
  extra slots in front of the episode (marked not ``valid``), so any stack that obeys
  the shift-by-one frame-stack rule is rebuilt exactly.

Episode ends cost extra slots only where needed: a **termination** needs no next
observation (the target does not bootstrap), so nothing is stored and the returned
``next_obs`` of a terminated transition has a zero newest frame (its value is
multiplied by ``1 - done = 0``). A **truncation** (time limit) bootstraps from the true
final observation, so its newest frame takes one extra slot (not ``valid``). With
k-frame stacks that is 7,056 bytes per truncated episode, amortised over the episode.

Sampling draws uniform slots and rejects the few that are not sampleable: padding or
final-frame slots, the pending slot, slots just ahead of the write cursor whose older
frames were overwritten, and transitions whose n-step window is not complete yet.
Reconstructed stacks are byte-identical to the observations that were added
(``add`` checks the frame-stack rule and raises otherwise, see ``check``).

Trade-offs: sampling costs one gather of ``2 * batch * k`` frames (the same bytes a
plain buffer copies), plus a few small index computations; ``add`` costs one frame copy
per environment (plus the check). The buffer does not know about lives, clipping or
networks: it stores what the environment wrappers produce.

n-step returns are computed at sample time from the stored one-step rewards, so
``n_step`` and ``gamma`` can be changed on a filled (or loaded) buffer.

Interface (both buffers)
------------------------
* ``add(obs, actions, rewards, next_obs, terminated, truncated, env_mask=None)``: one
  transition per environment (leading ``num_envs`` axis); ``next_obs`` is the *true*
  next observation (the final one at an episode end, not the reset observation);
  ``env_mask`` skips environments (e.g. the reset step of a next-step autoreset env).
* ``sample(batch_size, rng) -> ReplayBatch``; or, allocation-free in a hot loop,
  ``out = allocate_batch(batch_size)`` once, then
  ``get_batch(sample_indices(batch_size, rng), out=out)``.
* ``end_episodes(env_mask=None)`` after resetting environments outside the normal flow,
  ``clear()``, ``len(buffer)`` / ``size()`` (stored transitions), ``capacity``,
  ``nbytes``, ``save(path)`` / ``load(path)`` (numpy ``.npz`` content whatever the
  suffix, never pickled; ``load`` streams into the existing arrays).

Memory guard: numpy's zeroed arrays take their pages only as they are written, so a
replay larger than the machine's RAM would be created at once and kill the process hours
later. A buffer (and a minibatch from `allocate_batch`) is therefore refused up front with
`ReplayTooLargeError` when it needs more than `available_memory` (``MemAvailable`` of
``/proc/meminfo``, capped by a cgroup limit); ``allow_large=True`` or the environment
variable ``DQN_AGENTS_ALLOW_LARGE_REPLAY=1`` allows it anyway. `check_replay_memory`
runs the same check before anything is built.

Example:
    >>> import numpy as np, gymnasium as gym
    >>> space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    >>> buf = make_replay_buffer(space, capacity=1000, num_envs=2)
    >>> type(buf).__name__
    'FrameReplayBuffer'
"""

from __future__ import annotations

import json
import math
import os
import tokenize
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from dqn_agents.serialization import atomic_write
from dqn_agents.spec import is_image_space

__all__ = [
    "ALLOW_LARGE_ENV",
    "BaseReplayBuffer",
    "FrameReplayBuffer",
    "NStepReturns",
    "ReplayBatch",
    "ReplayTooLargeError",
    "StackPlan",
    "VectorReplayBuffer",
    "available_memory",
    "batch_nbytes",
    "check_replay_memory",
    "make_replay_buffer",
    "n_step_returns",
    "replay_nbytes",
]

ALLOW_LARGE_ENV = "DQN_AGENTS_ALLOW_LARGE_REPLAY"
"""Set to ``1`` to allow a replay memory or minibatch larger than the available RAM."""

_FORMAT = "dqn-agents-replay"
_FORMAT_VERSION = 1
_PAD_ZERO = 0
_PAD_REPEAT = 1
#: Minibatches smaller than this are allocated without reading the free memory.
_SMALL_BATCH_BYTES = 64 * 2**20
#: Bytes per slot besides the observations: actions, rewards, terminated, truncated.
_SLOT_EXTRA = 4 + 4 + 1 + 1
#: A frame buffer's extra bytes per slot: ep_pos, pad_mode, valid.
_FRAME_SLOT_EXTRA = 1 + 1 + 1
#: A minibatch's bytes per transition besides the two observations (int64 action and
#: float32 reward, done, discount).
_BATCH_EXTRA = 8 + 4 + 4 + 4


# What numpy and zipfile raise on a corrupted header or member, besides ValueError/OSError.
_HEADER_ERRORS = (
    tokenize.TokenError,
    SyntaxError,
    RecursionError,
    NotImplementedError,
    RuntimeError,
)


class ReplayTooLargeError(ValueError):
    """A replay memory or minibatch would need more memory than this machine has free.

    The message says how many bytes it needs, how many are available, and what to change.
    """


def _count(name: str, value: Any, minimum: int = 1) -> int:
    """A whole number >= ``minimum`` (numpy integers too), or a clear ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _stat_value(path: str, keys: tuple[str, ...]) -> int:
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                key, _, value = line.partition(" ")
                if key in keys and value.strip().isdigit():
                    return int(value)
    except (OSError, UnicodeDecodeError):
        pass
    return 0


def _cgroup_available() -> int | None:
    """Bytes left under this process's cgroup memory limit (v2, else v1); None: no limit."""
    for limit_file, usage_file, stat_file, inactive in (
        ("memory.max", "memory.current", "memory.stat", ("inactive_file",)),
        (
            "memory/memory.limit_in_bytes",
            "memory/memory.usage_in_bytes",
            "memory/memory.stat",
            ("total_inactive_file", "inactive_file"),
        ),
    ):
        limit = _read_int(f"/sys/fs/cgroup/{limit_file}")
        usage = _read_int(f"/sys/fs/cgroup/{usage_file}")
        if limit is None or usage is None or limit >= 2**60:
            continue
        # The page cache counts as usage but is given back under pressure.
        usage -= min(usage, _stat_value(f"/sys/fs/cgroup/{stat_file}", inactive))
        return max(limit - usage, 0)
    return None


def available_memory() -> int | None:
    """Bytes of RAM a new allocation can use now, or ``None`` when that is unknown.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux), else ``psutil`` when it is installed;
    capped by the cgroup memory limit of a container.

    Returns:
        The bytes, or ``None`` (nothing to read: the memory checks are skipped).

    Example:
        >>> n = available_memory()
        >>> n is None or n > 0
        True
    """
    available: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        available = None
    if available is None:
        try:
            import psutil
        except ImportError:
            pass
        else:
            available = int(psutil.virtual_memory().available)
    limited = _cgroup_available()
    if limited is not None:
        available = limited if available is None else min(available, limited)
    return available


def _allowed(allow_large: bool | None) -> bool:
    if allow_large is not None:
        return bool(allow_large)
    return os.environ.get(ALLOW_LARGE_ENV, "").strip().lower() in ("1", "true", "yes")


def _gb(nbytes: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9)):
        if nbytes >= size:
            return f"{nbytes / size:,.1f} {unit}"
    return f"{nbytes / 1e6:,.1f} MB"


def _refuse_if_too_large(
    nbytes: int, what: str, fix: str, allow_large: bool | None, per_unit: int = 0
) -> None:
    """Raise `ReplayTooLargeError` when ``nbytes`` exceed the available memory."""
    if _allowed(allow_large):
        return
    available = available_memory()
    if available is None or nbytes <= available:
        return
    fits = f" (about {available // per_unit:,} fit)" if per_unit > 0 else ""
    raise ReplayTooLargeError(
        f"{what} would take {_gb(nbytes)} ({nbytes:,} bytes), but only {_gb(available)} of "
        f"memory is available on this machine (MemAvailable); its pages would fill as it is "
        f"used, and the system would kill the process then. Lower {fix}{fits}, free memory, "
        f"or allow it anyway with allow_large=True or the environment variable "
        f"{ALLOW_LARGE_ENV}=1."
    )


def _zeros(shape: tuple[int, ...], dtype: npt.DTypeLike, what: str) -> np.ndarray:
    """``np.zeros``, with allocation failures as `ReplayTooLargeError` (not MemoryError)."""
    try:
        return np.zeros(shape, dtype=dtype)
    except (MemoryError, ValueError) as exc:  # ValueError: numpy's "array is too big"
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        raise ReplayTooLargeError(
            f"{what}: cannot allocate {_gb(nbytes)} ({exc}); lower buffer_size."
        ) from exc


def _observation_nbytes(observation_shape: Sequence[int], observation_dtype: npt.DTypeLike) -> int:
    return math.prod(int(s) for s in observation_shape) * np.dtype(observation_dtype).itemsize


def replay_nbytes(
    observation_shape: Sequence[int],
    observation_dtype: npt.DTypeLike,
    capacity: int,
    num_envs: int = 1,
) -> int:
    """Bytes the replay `make_replay_buffer` builds for these settings will hold.

    Args:
        observation_shape: Shape of one observation.
        observation_dtype: Its dtype.
        capacity: Total transitions (``buffer_size``).
        num_envs: Environment streams (the capacity is split between them).

    Returns:
        The bytes of the buffer's arrays (`BaseReplayBuffer.nbytes` once built).

    Example:
        >>> replay_nbytes((4, 84, 84), np.uint8, 1_000_000)  # one frame per slot
        7069000000
    """
    shape = tuple(int(s) for s in observation_shape)
    dtype = np.dtype(observation_dtype)
    slots = (int(capacity) // max(int(num_envs), 1)) * max(int(num_envs), 1)
    if is_image_space(shape, dtype):
        per_slot = math.prod(shape[1:]) + _SLOT_EXTRA + _FRAME_SLOT_EXTRA
    else:
        per_slot = 2 * _observation_nbytes(shape, dtype) + _SLOT_EXTRA
    return slots * per_slot


def batch_nbytes(
    observation_shape: Sequence[int], observation_dtype: npt.DTypeLike, batch_size: int
) -> int:
    """Bytes of one minibatch (`BaseReplayBuffer.allocate_batch`).

    Args:
        observation_shape: Shape of one observation.
        observation_dtype: Its dtype.
        batch_size: Transitions per minibatch.

    Returns:
        The bytes of ``obs``, ``next_obs``, actions, rewards, dones and discounts.
    """
    obs = _observation_nbytes(observation_shape, observation_dtype)
    return int(batch_size) * (2 * obs + _BATCH_EXTRA)


def check_replay_memory(
    observation_space: Any,
    buffer_size: int,
    num_envs: int = 1,
    batch_size: int | None = None,
    *,
    allow_large: bool | None = None,
) -> int:
    """Refuse, before anything is built, a replay (and minibatches) larger than free RAM.

    Training holds the replay memory plus two minibatches (the learner's staging buffers
    and the batch on the device). Call it where a run is set up, so that the error comes
    before any folder or file is written.

    Args:
        observation_space: The observation space of one env (``shape`` and ``dtype``).
        buffer_size: Replay capacity in transitions.
        num_envs: Environment streams.
        batch_size: Transitions per minibatch (``None``: the replay alone).
        allow_large: Allow more than the available memory (``None``: the
            `ALLOW_LARGE_ENV` environment variable decides).

    Returns:
        The bytes needed.

    Raises:
        ValueError: A count is not a whole number >= 1.
        ReplayTooLargeError: More than the available memory; says how much of each.

    Example:
        >>> import gymnasium as gym
        >>> check_replay_memory(gym.spaces.Box(0, 1, (4,), np.float32), 1000, 1, 32)
        45328
    """
    _count("buffer_size", buffer_size)
    _count("num_envs", num_envs)
    shape = tuple(int(s) for s in observation_space.shape)
    dtype = np.dtype(observation_space.dtype)
    replay = replay_nbytes(shape, dtype, buffer_size, num_envs)
    batches = (
        0
        if batch_size is None
        else 2 * batch_nbytes(shape, dtype, _count("batch_size", batch_size))
    )
    per_slot = replay // max((buffer_size // num_envs) * num_envs, 1)
    what = f"The replay memory (buffer_size {buffer_size:,} x {per_slot:,} bytes)"
    if batches:
        what += f" plus two minibatches of batch_size {batch_size:,}"
    fix = "buffer_size" if replay >= batches else "batch_size"
    _refuse_if_too_large(
        replay + batches, what, fix, allow_large, per_slot if fix == "buffer_size" else 0
    )
    return replay + batches


class NStepReturns(NamedTuple):
    """The n-step returns of sampled transitions (`n_step_returns`, `BaseReplayBuffer.windows`).

    Attributes:
        returns: ``(B,)`` float32 ``sum_{k<m} gamma^k r_{t+k}`` over the ``m`` used rewards.
        discounts: ``(B,)`` float32 bootstrap discounts ``gamma^m``.
        dones: ``(B,)`` float32, 1.0 where the window ends with a termination.
        lengths: ``(B,)`` int64 rewards used, ``m`` in ``1..n``.
    """

    returns: npt.NDArray[np.float32]
    discounts: npt.NDArray[np.float32]
    dones: npt.NDArray[np.float32]
    lengths: npt.NDArray[np.int64]


def n_step_returns(
    rewards: npt.NDArray[np.floating],
    terminated: npt.NDArray[np.bool_],
    truncated: npt.NDArray[np.bool_],
    gamma: float,
) -> NStepReturns:
    """Discounted n-step returns of reward windows, cut at episode ends.

    Row ``b`` holds the rewards and end flags of ``n`` consecutive transitions
    starting at a sampled one. The return stops after the first transition that
    terminated or was truncated (entries after it are ignored, whatever they hold).

    Args:
        rewards: ``(B, n)`` rewards ``r_t, r_{t+1}, ...``.
        terminated: ``(B, n)`` termination flags of the same transitions.
        truncated: ``(B, n)`` truncation flags (time limits: bootstrap).
        gamma: Discount factor.

    Returns:
        ``(returns, discounts, dones, lengths)`` (`NStepReturns`).

    Example:
        >>> r = np.array([[1.0, 1.0, 1.0]]); f = np.zeros((1, 3), bool)
        >>> n_step_returns(r, f, f, 0.5)[0]
        array([1.75], dtype=float32)
    """
    rewards = np.asarray(rewards)
    if rewards.ndim != 2:
        raise ValueError(f"rewards must be (B, n), got shape {rewards.shape}.")
    batch, n = rewards.shape
    ended = np.logical_or(terminated, truncated)
    # alive[:, k]: step k is part of the return (no end among steps < k).
    alive = np.ones((batch, n), dtype=bool)
    if n > 1:
        np.logical_not(np.logical_or.accumulate(ended[:, :-1], axis=1), out=alive[:, 1:])
    powers = np.power(np.float64(gamma), np.arange(n, dtype=np.float64))
    returns = (np.where(alive, rewards, 0.0) * powers).sum(axis=1)
    lengths = alive.sum(axis=1).astype(np.int64)
    last = lengths - 1
    rows = np.arange(batch)
    dones = np.asarray(terminated)[rows, last].astype(np.float32)
    discounts = np.power(np.float64(gamma), lengths).astype(np.float32)
    return NStepReturns(returns.astype(np.float32), discounts, dones, lengths)


class ReplayBatch(NamedTuple):
    """A minibatch of transitions (numpy arrays, leading dimension = batch size).

    Attributes:
        obs: Observations ``(B, *obs_shape)`` in the observation dtype (uint8 frames).
        actions: ``(B,)`` int64 actions.
        rewards: ``(B,)`` float32 (discounted n-step sums of rewards).
        next_obs: ``(B, *obs_shape)`` observations to bootstrap from (``n`` steps later,
            or the true final observation at a truncation).
        dones: ``(B,)`` float32, 1.0 where the window ends with a *termination* (no
            bootstrap); time-limit truncations are not dones.
        discounts: ``(B,)`` float32 bootstrap discounts ``gamma ** k`` (``k`` rewards used).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    dones: np.ndarray
    discounts: np.ndarray


class StackPlan(NamedTuple):
    """Where the frames of a minibatch's stacks lie in a `FrameReplayBuffer`.

    What `FrameReplayBuffer.stack_plan` returns: the buffer's gather (`get_batch`) and the
    device one (`dqn_agents.device_replay.DeviceFrameStore`) both follow it.

    Attributes:
        obs_frames: ``(B, k)`` int64 rows of ``frames.reshape(-1, H, W)`` that make up each
            ``obs`` stack, oldest frame first.
        obs_zero: ``(B, k)`` bool, True where the stack holds a zero frame instead (padding
            before the episode's first frame).
        next_frames: ``(B, k)`` the same rows for the ``next_obs`` stacks.
        next_zero: ``(B, k)`` the zero frames of the ``next_obs`` stacks (also the newest
            frame of a terminated transition: never stored, never bootstrapped from).
    """

    obs_frames: npt.NDArray[np.int64]
    obs_zero: npt.NDArray[np.bool_]
    next_frames: npt.NDArray[np.int64]
    next_zero: npt.NDArray[np.bool_]


class _Transitions(NamedTuple):
    """The arrays of one `BaseReplayBuffer.add` call, leading ``num_envs`` axis."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray


class BaseReplayBuffer:
    """Interface and shared machinery of the replay buffers (not used directly).

    Per-environment rings, uniform sampling with rejection of incomplete transitions,
    n-step windows, batches into preallocated arrays, ``.npz`` save / load. Subclasses:
    `FrameReplayBuffer` (stacked uint8 frames, each frame stored once) and
    `VectorReplayBuffer` (plain observations).
    """

    kind: str = "base"

    def __init__(
        self,
        observation_shape: Sequence[int],
        observation_dtype: npt.DTypeLike,
        capacity: int,
        num_envs: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        *,
        allow_large: bool | None = None,
    ) -> None:
        _count("capacity (buffer_size)", capacity)
        _count("num_envs", num_envs)
        _count("n_step", n_step)
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}.")
        self.observation_shape = tuple(int(s) for s in observation_shape)
        self.observation_dtype = np.dtype(observation_dtype)
        self.num_envs = int(num_envs)
        self.env_capacity = int(capacity) // self.num_envs
        self.n_step = int(n_step)
        self.gamma = float(gamma)
        self._min_env_capacity()
        per_slot = self._slot_nbytes()
        _refuse_if_too_large(
            per_slot * self.env_capacity * self.num_envs,
            f"This replay memory (buffer_size {capacity:,} x {per_slot:,} bytes per transition)",
            "buffer_size",
            allow_large,
            per_slot,
        )
        rows, stacks = (self.num_envs,), (self.num_envs, *self.observation_shape)
        # add()'s shape check, in _Transitions order
        self._shapes: tuple[tuple[int, ...], ...] = (stacks, rows, rows, stacks, rows, rows)
        self._all_envs = np.arange(self.num_envs)
        c = self.env_capacity
        what = "The replay memory"
        self.actions = _zeros((self.num_envs, c), np.int32, what)
        self.rewards = _zeros((self.num_envs, c), np.float32, what)
        self.terminated = _zeros((self.num_envs, c), bool, what)
        self.truncated = _zeros((self.num_envs, c), bool, what)
        # slots claimed so far per stream (slots < min(claimed, C) hold data).
        self.claimed = np.zeros(num_envs, dtype=np.int64)
        self.head = np.zeros(num_envs, dtype=np.int64)
        #: Where the transitions come from, e.g. ``{"game": "Pong", "n_actions": 6}`` (set
        #: by `dqn_agents.DQN`); saved with the buffer, and `load` refuses a file whose
        #: source disagrees on a key both have.
        self.source: dict[str, Any] = {}

    # ------------------------------------------------------------------ sizes
    @property
    def capacity(self) -> int:
        """Total number of slots (``env_capacity * num_envs``)."""
        return self.env_capacity * self.num_envs

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer's arrays."""
        return int(sum(a.nbytes for a in self._arrays().values()))

    def size(self) -> int:
        """Number of stored transitions (same as ``len(buffer)``)."""
        return len(self)

    def __len__(self) -> int:
        raise NotImplementedError

    def _arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _slot_nbytes(self) -> int:
        """Bytes per slot of this buffer's arrays (for the memory check before allocating)."""
        raise NotImplementedError

    def _min_env_capacity(self) -> None:
        """Refuse a capacity too small for this buffer (before anything is allocated)."""

    def _filled(self) -> npt.NDArray[np.int64]:
        return np.minimum(self.claimed, self.env_capacity)

    # ------------------------------------------------------------------ batches
    def allocate_batch(self, batch_size: int) -> ReplayBatch:
        """Allocate output arrays for `get_batch` (reuse them every update).

        Args:
            batch_size: Number of transitions.

        Returns:
            A `ReplayBatch` of uninitialised arrays.

        Raises:
            ValueError: ``batch_size`` is not a whole number >= 0 (0: `get_batch` of no
                index).
            ReplayTooLargeError: The minibatch needs more than the available memory.
        """
        batch_size = _count("batch_size", batch_size, 0)
        nbytes = batch_nbytes(self.observation_shape, self.observation_dtype, batch_size)
        if nbytes > _SMALL_BATCH_BYTES:
            _refuse_if_too_large(
                nbytes, f"A minibatch of batch_size {batch_size:,}", "batch_size", None
            )
        obs_shape = (batch_size, *self.observation_shape)
        try:
            return ReplayBatch(
                obs=np.empty(obs_shape, dtype=self.observation_dtype),
                actions=np.empty(batch_size, dtype=np.int64),
                rewards=np.empty(batch_size, dtype=np.float32),
                next_obs=np.empty(obs_shape, dtype=self.observation_dtype),
                dones=np.empty(batch_size, dtype=np.float32),
                discounts=np.empty(batch_size, dtype=np.float32),
            )
        except (MemoryError, ValueError) as exc:
            raise ReplayTooLargeError(
                f"A minibatch of batch_size {batch_size:,} ({_gb(nbytes)}) cannot be "
                f"allocated ({exc}); lower batch_size."
            ) from exc

    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """Sample a minibatch uniformly over the stored transitions.

        Args:
            batch_size: Number of transitions.
            rng: numpy generator (the same seed gives the same batch).

        Returns:
            A new `ReplayBatch`.

        Raises:
            ValueError: If no transition can be sampled yet.
        """
        return self.get_batch(self.sample_indices(batch_size, rng))

    def sample_indices(self, batch_size: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
        """Draw flat indices (``env * env_capacity + slot``) of sampleable transitions.

        Args:
            batch_size: Number of indices.
            rng: numpy generator.

        Returns:
            ``(batch_size,)`` int64 indices for `get_batch`.

        Raises:
            ValueError: If no transition can be sampled yet, or ``batch_size`` < 1.
        """
        if not batch_size >= 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}.")
        filled = self._filled()
        total = int(filled.sum())
        if total == 0 or len(self) == 0:
            raise ValueError(
                f"Cannot sample {batch_size} transitions from an empty replay buffer; "
                "add transitions first (e.g. wait for learning_starts)."
            )
        starts = np.cumsum(filled) - filled
        c = self.env_capacity
        out = np.empty(batch_size, dtype=np.int64)
        todo = np.arange(batch_size)
        for _ in range(64):
            u = rng.integers(total, size=len(todo))
            env = np.searchsorted(starts, u, side="right") - 1
            flat = env * c + (u - starts[env])
            ok = self.sampleable(flat)
            out[todo[ok]] = flat[ok]
            todo = todo[~ok]
            if len(todo) == 0:
                return out
        # Almost nothing is sampleable: draw from the explicit list (rare, O(capacity)).
        candidates = np.concatenate(
            [e * c + np.arange(filled[e], dtype=np.int64) for e in range(self.num_envs)]
        )
        candidates = candidates[self.sampleable(candidates)]
        if len(candidates) == 0:
            raise ValueError(
                f"No transition can be sampled yet (stored: {len(self)}, n_step: "
                f"{self.n_step}): add more transitions."
            )
        out[todo] = candidates[rng.integers(len(candidates), size=len(todo))]
        return out

    def windows(self, flat: npt.NDArray[np.int64]) -> NStepReturns:
        """The n-step returns of the transitions at ``flat``, from the stored rewards.

        Args:
            flat: Flat indices (``env * env_capacity + slot``).

        Returns:
            The `NStepReturns` (as `n_step_returns` computes them).
        """
        if self.n_step == 1:  # fast path: one-step returns
            returns = self.rewards.reshape(-1)[flat]
            dones = self.terminated.reshape(-1)[flat].astype(np.float32)
            discounts = np.full(len(flat), self.gamma, dtype=np.float32)
            return NStepReturns(returns, discounts, dones, np.ones(len(flat), dtype=np.int64))
        c = self.env_capacity
        env, slot = np.divmod(flat, c)
        window = env[:, None] * c + (slot[:, None] + np.arange(self.n_step)) % c
        return n_step_returns(
            self.rewards.reshape(-1)[window],
            self.terminated.reshape(-1)[window],
            self.truncated.reshape(-1)[window],
            self.gamma,
        )

    def _window_complete(
        self, flat: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        env, slot = np.divmod(flat, self.env_capacity)
        newer = (self.head[env] - 1 - slot) % self.env_capacity
        return (lengths - 1) <= newer

    def sampleable(self, flat: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which flat indices hold a transition that `sample_indices` may draw now.

        A slot qualifies when it holds a transition whose n-step window is complete (and,
        in a `FrameReplayBuffer`, whose stack's older frames are not overwritten yet).

        Args:
            flat: Flat indices (``env * env_capacity + slot``).

        Returns:
            ``(len(flat),)`` bool.
        """
        raise NotImplementedError

    def get_batch(
        self, indices: npt.NDArray[np.int64], out: ReplayBatch | None = None
    ) -> ReplayBatch:
        """Gather the transitions at ``indices`` (from `sample_indices`).

        A `FrameReplayBuffer` rebuilds the stacks by one vectorised gather per ``obs`` /
        ``next_obs`` (see `FrameReplayBuffer.stack_plan`).

        Args:
            indices: Flat indices.
            out: Preallocated arrays from `allocate_batch` (filled in place and
                returned), or None to allocate.

        Returns:
            The batch.
        """
        indices = np.asarray(indices, dtype=np.int64)
        if out is None:
            out = self.allocate_batch(len(indices))
        windows = self.windows(indices)
        self._gather_observations(indices, windows, out)
        out.actions[...] = self.actions.reshape(-1)[indices]
        out.rewards[...] = windows.returns
        out.dones[...] = windows.dones
        out.discounts[...] = windows.discounts
        return out

    def _gather_observations(
        self, indices: npt.NDArray[np.int64], windows: NStepReturns, out: ReplayBatch
    ) -> None:
        """Fill ``out.obs`` and ``out.next_obs`` (``next_obs``: ``windows.lengths`` later)."""
        raise NotImplementedError

    def add(
        self,
        obs: npt.ArrayLike,
        actions: npt.ArrayLike,
        rewards: npt.ArrayLike,
        next_obs: npt.ArrayLike,
        terminated: npt.ArrayLike,
        truncated: npt.ArrayLike,
        env_mask: npt.ArrayLike | None = None,
    ) -> None:
        """Store one transition per environment.

        Args:
            obs: ``(num_envs, *observation_shape)`` observations the actions were taken in
                (``(num_envs, k, H, W)`` uint8 stacks in a `FrameReplayBuffer`).
            actions: ``(num_envs,)`` integer actions.
            rewards: ``(num_envs,)`` rewards.
            next_obs: ``(num_envs, *observation_shape)`` the **true** next observations
                (the final observation at an episode end, not the reset observation).
            terminated: ``(num_envs,)`` episode ended in a terminal state.
            truncated: ``(num_envs,)`` episode was cut (time limit; bootstraps).
            env_mask: Optional ``(num_envs,)`` bool; False skips that environment (e.g.
                the reset step of a "next-step" autoreset vector env).

        Raises:
            ValueError: On wrong shapes, or (a `FrameReplayBuffer` with ``check``)
                observations that do not continue the stored frame stack.
        """
        batch = _Transitions(
            *(np.asarray(a) for a in (obs, actions, rewards, next_obs, terminated, truncated))
        )
        self._check_shapes(batch)
        envs = self._all_envs if env_mask is None else _mask_envs(env_mask, self.num_envs)
        self._add(envs, batch)

    def _add(self, envs: npt.NDArray[np.int64], batch: _Transitions) -> None:
        """Store the (shape-checked) transitions of the environments ``envs``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ checks
    def _check_shapes(self, batch: _Transitions) -> None:
        # The hot path of every env step: one tuple comparison, the names only on failure.
        if tuple(arr.shape for arr in batch) == self._shapes:
            return
        for name, arr, shape in zip(_Transitions._fields, batch, self._shapes, strict=True):
            if arr.shape != shape:
                detail = " (num_envs, *observation_shape)" if name in ("obs", "next_obs") else ""
                raise ValueError(f"{name} must have shape {shape}{detail}, got {arr.shape}.")

    # ------------------------------------------------------------------ save / load
    def _meta(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "kind": self.kind,
            "observation_shape": list(self.observation_shape),
            "observation_dtype": self.observation_dtype.str,
            "num_envs": self.num_envs,
            "env_capacity": self.env_capacity,
            "n_step": self.n_step,
            "gamma": self.gamma,
            "source": dict(self.source),
        }

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"claimed": self.claimed, "head": self.head}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the buffer to ``path`` as an uncompressed ``.npz`` (numpy) file.

        The content is written to exactly ``path`` whatever its suffix (SB3's
        ``CheckpointCallback`` names replay files ``*.pkl``; the content is still npz),
        atomically (`dqn_agents.serialization.atomic_write`: missing folders are created,
        and a failed write leaves ``path`` as it was). Only the filled prefix of each ring
        is written.

        Args:
            path: Destination file.
        """
        filled = int(self._filled().max())
        arrays: dict[str, Any] = {
            name: (arr[:, :filled] if arr.ndim >= 2 else arr)
            for name, arr in self._arrays().items()
        }
        arrays.update(self._state_arrays())
        arrays["meta"] = np.array(json.dumps(self._meta()))
        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace this buffer's content with a file written by `save`.

        The file must come from a buffer of the same kind, observation shape and dtype,
        ``num_envs`` and ``env_capacity``; ``n_step`` and ``gamma`` are this buffer's
        (returns are computed at sample time). Never unpickles (``allow_pickle=False``;
        object arrays are refused). Large arrays are streamed straight into this
        buffer's memory in chunks, so loading a 7 GB buffer needs no second 7 GB.
        Everything is validated before any data is copied (format version, shapes,
        counters in range, every member's checksum), so a refused file leaves the buffer
        as it was; only a read error while copying (a disk failing mid-read) clears it.

        Args:
            path: File written by `save`.

        Raises:
            ValueError: If the file is not a replay file (e.g. a pickle), is truncated,
                or does not match this buffer (the message says received vs expected).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No replay file at {path}.")
        hint = (
            f"{path} is not a readable dqn-agents replay file (numpy .npz written by "
            "ReplayBuffer.save; pickles are refused)"
        )
        try:
            with np.load(path, allow_pickle=False) as data:
                if not isinstance(data, np.lib.npyio.NpzFile):
                    raise ValueError("not an .npz archive")
                if "meta" not in data.files:
                    raise ValueError("it has no 'meta' entry")
                meta = json.loads(str(data["meta"]))
                state = {name: data[name] for name in self._state_arrays() if name in data.files}
        except (
            ValueError,
            OSError,
            EOFError,
            zipfile.BadZipFile,
            KeyError,
            *_HEADER_ERRORS,
        ) as exc:
            raise ValueError(f"{hint}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            got = meta.get("format") if isinstance(meta, dict) else meta
            raise ValueError(f"{path}: format {got!r}, expected {_FORMAT!r}.")
        if meta.get("format_version") != _FORMAT_VERSION:
            raise ValueError(
                f"{path}: replay format_version {meta.get('format_version')!r}, this version "
                f"of dqn-agents reads {_FORMAT_VERSION}; a newer file needs a newer "
                "dqn-agents (pip install -U dqn-agents)."
            )
        mine = self._meta()
        for key in ("kind", "observation_shape", "observation_dtype", "num_envs", "env_capacity"):
            if meta.get(key) != mine[key]:
                detail = ""
                if key == "env_capacity" and isinstance(meta.get(key), int):
                    theirs_size = meta[key] * int(meta.get("num_envs") or 1)
                    mine_size = self.env_capacity * self.num_envs
                    detail = f" (buffer_size {theirs_size} vs this buffer's {mine_size})"
                raise ValueError(
                    f"{path}: replay file has {key}={meta.get(key)!r} but this buffer expects "
                    f"{mine[key]!r}{detail}; create the buffer with matching settings "
                    "(buffer_size, num_envs)."
                )
        source = meta.get("source")
        theirs: dict[str, Any] = source if isinstance(source, dict) else {}
        for key in sorted(set(theirs) & set(self.source)):
            if theirs[key] != self.source[key]:
                raise ValueError(
                    f"{path}: the replay was recorded with {key}={theirs[key]!r}, but this "
                    f"buffer is for {key}={self.source[key]!r}; load a replay recorded on "
                    "the same game."
                )
        for name, arr in self._state_arrays().items():
            got = state.get(name)
            if got is None:
                raise ValueError(f"{path}: missing array {name!r} (expected shape {arr.shape}).")
            if not isinstance(got, np.ndarray):
                raise ValueError(f"{path}: {name!r} is not an array.")
            if got.shape != arr.shape or got.dtype != arr.dtype:
                raise ValueError(
                    f"{path}: array {name!r} has shape {got.shape} and dtype {got.dtype}, "
                    f"expected {arr.shape} and {arr.dtype}."
                )
        claimed, head = state["claimed"], state["head"]
        if (claimed < 0).any() or (head < 0).any() or (head >= self.env_capacity).any():
            raise ValueError(
                f"{path}: counters out of range (claimed {claimed.tolist()}, head "
                f"{head.tolist()}; a head must be in [0, {self.env_capacity})): the file is "
                "corrupt."
            )
        filled = int(np.minimum(claimed, self.env_capacity).max())
        arrays = self._arrays()
        try:
            with zipfile.ZipFile(path) as archive:
                members = {n.removesuffix(".npy"): n for n in archive.namelist()}
                expected_names = set(arrays) | set(self._state_arrays()) | {"meta"}
                extra = set(members) - expected_names
                if extra:
                    raise ValueError(f"{path}: unexpected arrays {sorted(extra)}.")
                # Every member's checksum, before one byte is copied: a corrupt file is
                # refused with the buffer in memory untouched (one extra read, no memory).
                broken = archive.testzip()
                if broken is not None:
                    raise ValueError(f"{path}: member {broken!r} fails its checksum.")
                offsets: dict[str, int] = {}
                for name, arr in arrays.items():
                    shape = (arr.shape[0], filled, *arr.shape[2:]) if arr.ndim >= 2 else arr.shape
                    if name not in members:
                        raise ValueError(f"{path}: missing array {name!r} (expected {shape}).")
                    with archive.open(members[name]) as f:
                        got_shape, got_dtype = _read_npy_header(f, path, name)
                        offsets[name] = f.tell()
                    if got_shape != shape or got_dtype != arr.dtype:
                        raise ValueError(
                            f"{path}: array {name!r} has shape {got_shape} and dtype "
                            f"{got_dtype}, expected {shape} and {arr.dtype}."
                        )
                try:
                    for name, arr in arrays.items():
                        with archive.open(members[name]) as f:
                            f.seek(offsets[name])
                            if arr.ndim >= 2:
                                for e in range(arr.shape[0]):
                                    _read_into(f, arr[e, :filled], path, name)
                                arr[:, filled:] = 0
                            else:
                                _read_into(f, arr, path, name)
                except BaseException:
                    self.clear()
                    raise
        except (OSError, EOFError, zipfile.BadZipFile, *_HEADER_ERRORS) as exc:
            raise ValueError(f"{hint}: {exc}") from exc
        for name, arr in self._state_arrays().items():
            arr[...] = state[name]
        self._after_load()

    def clear(self) -> None:
        """Forget every stored transition (the arrays stay allocated)."""
        self.claimed[:] = 0
        self.head[:] = 0
        self.terminated[:] = False
        self.truncated[:] = False

    def _after_load(self) -> None:
        """Recompute derived state after `load`."""

    def end_episodes(self, env_mask: npt.ArrayLike | None = None) -> None:
        """Cut the episodes in progress, as if they had been truncated.

        Call it when the environments are reset outside the normal flow (e.g. a new
        ``learn`` call on a freshly reset env): the last stored transition of each
        selected stream becomes a truncation (it bootstraps from its stored next
        observation) and the next `add` starts a new episode. Streams whose last
        transition already ended an episode are left alone.

        Args:
            env_mask: Optional ``(num_envs,)`` bool selecting streams; default all.
        """
        c = self.env_capacity
        for e in _mask_envs(env_mask, self.num_envs).tolist():
            if self._last_transition_open(e):
                last = (int(self.head[e]) - 1) % c
                self.truncated[e, last] = True
                self._close_stream(e)

    def _last_transition_open(self, env: int) -> bool:
        if self.claimed[env] == 0:
            return False
        last = (int(self.head[env]) - 1) % self.env_capacity
        return not (self.terminated[env, last] or self.truncated[env, last])

    def _close_stream(self, env: int) -> None:
        """Hook: bookkeeping after `end_episodes` truncated a stream's last transition."""


class VectorReplayBuffer(BaseReplayBuffer):
    """Plain replay for small observations: stores ``obs`` and ``next_obs`` per transition.

    Memory per transition: ``2 * obs_nbytes + 10`` bytes. Use `FrameReplayBuffer` for
    stacked Atari frames. The interface is `FrameReplayBuffer`'s (see the module
    docstring); every written slot is a sampleable transition once its n-step window is
    complete.

    Args:
        observation_shape: Shape of one observation.
        observation_dtype: dtype of observations (kept as is).
        capacity: Total transitions, split evenly between the ``num_envs`` streams.
        num_envs: Number of environments whose transitions arrive together.
        n_step: Rewards summed per sample (truncated at episode ends).
        gamma: Discount of the n-step returns.
        allow_large: Allow a buffer larger than `available_memory` (``None``: the
            `ALLOW_LARGE_ENV` environment variable decides).

    Raises:
        ValueError: A count below 1 or a capacity too small for ``n_step``.
        ReplayTooLargeError: The buffer needs more than the available memory.
    """

    kind = "vector"

    def __init__(
        self,
        observation_shape: Sequence[int],
        observation_dtype: npt.DTypeLike,
        capacity: int,
        num_envs: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        *,
        allow_large: bool | None = None,
    ) -> None:
        super().__init__(
            observation_shape,
            observation_dtype,
            capacity,
            num_envs,
            n_step,
            gamma,
            allow_large=allow_large,
        )
        shape = (self.num_envs, self.env_capacity, *self.observation_shape)
        self.obs = _zeros(shape, self.observation_dtype, "The replay memory")
        self.next_obs = _zeros(shape, self.observation_dtype, "The replay memory")

    def _min_env_capacity(self) -> None:
        if self.env_capacity < self.n_step + 1:
            raise ValueError(
                f"capacity {self.env_capacity * self.num_envs} gives {self.env_capacity} slots "
                f"per environment; need at least n_step + 1 = {self.n_step + 1}."
            )

    def _slot_nbytes(self) -> int:
        return 2 * _observation_nbytes(self.observation_shape, self.observation_dtype) + _SLOT_EXTRA

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "obs": self.obs,
            "next_obs": self.next_obs,
            "actions": self.actions,
            "rewards": self.rewards,
            "terminated": self.terminated,
            "truncated": self.truncated,
        }

    def __len__(self) -> int:
        return int(self._filled().sum())

    def _add(self, envs: npt.NDArray[np.int64], batch: _Transitions) -> None:
        slots = self.head[envs]
        self.obs[envs, slots] = batch.obs[envs]
        self.next_obs[envs, slots] = batch.next_obs[envs]
        self.actions[envs, slots] = batch.actions[envs]
        self.rewards[envs, slots] = batch.rewards[envs]
        self.terminated[envs, slots] = batch.terminated[envs]
        self.truncated[envs, slots] = batch.truncated[envs]
        self.head[envs] = (slots + 1) % self.env_capacity
        self.claimed[envs] += 1

    def sampleable(self, flat: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which flat indices hold a transition whose n-step window is complete."""
        if self.n_step == 1:  # every written slot is a complete transition
            return np.ones(len(flat), dtype=bool)
        lengths = self.windows(flat)[3]
        return self._window_complete(flat, lengths)

    def _gather_observations(
        self, indices: npt.NDArray[np.int64], windows: NStepReturns, out: ReplayBatch
    ) -> None:
        c = self.env_capacity
        env, slot = np.divmod(indices, c)
        last = env * c + (slot + windows.lengths - 1) % c
        flat_obs = self.obs.reshape(-1, *self.observation_shape)
        flat_next = self.next_obs.reshape(-1, *self.observation_shape)
        np.take(flat_obs, indices, axis=0, out=out.obs, mode="clip")
        np.take(flat_next, last, axis=0, out=out.next_obs, mode="clip")


class FrameReplayBuffer(BaseReplayBuffer):
    """Replay for stacked uint8 frames ``(k, H, W)`` that stores each frame once.

    See the module docstring for the memory layout. About 7,069 bytes per transition
    for 4x84x84 stacks (plus one 7,056-byte slot per truncated episode, and k-1 slots
    per episode only for stacks padded with frames other than zeros or the first frame).

    Args:
        observation_shape: ``(k, H, W)``: k stacked frames, channel first.
        capacity: Total slots, split evenly between the ``num_envs`` streams.
        num_envs: Number of environments whose transitions arrive together.
        n_step: Rewards summed per sample (truncated at episode ends).
        gamma: Discount of the n-step returns.
        check: Verify in `add` that observations are frame stacks continuing the
            stored ones (``obs[-1]`` equals the stored next frame, ``next_obs[:-1] ==
            obs[1:]``); raises ValueError otherwise. Costs about 3 frame comparisons
            per environment and step.
        allow_large: Allow a buffer larger than `available_memory` (``None``: the
            `ALLOW_LARGE_ENV` environment variable decides).

    Raises:
        ValueError: On a shape that is not ``(k, H, W)``, a count below 1 or a too small
            capacity.
        ReplayTooLargeError: The buffer needs more than the available memory.
    """

    kind = "frames"
    vector_add_min_envs: int = 12
    """From this many envs on, `add` handles mid-episode streams in one vectorised pass
    (numpy call overheads make a per-env loop faster below ~12 envs)."""

    def __init__(
        self,
        observation_shape: Sequence[int],
        capacity: int,
        num_envs: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        *,
        check: bool = True,
        allow_large: bool | None = None,
    ) -> None:
        if len(tuple(observation_shape)) != 3:
            raise ValueError(
                f"FrameReplayBuffer needs observations (k, H, W), got {tuple(observation_shape)}."
            )
        super().__init__(
            observation_shape, np.uint8, capacity, num_envs, n_step, gamma, allow_large=allow_large
        )
        self.stack = self.observation_shape[0]
        k = self.stack
        self.check = bool(check)
        c = self.env_capacity
        frame_shape = self.observation_shape[1:]
        what = "The replay memory"
        self.frames = _zeros((self.num_envs, c, *frame_shape), np.uint8, what)
        self.ep_pos = _zeros((self.num_envs, c), np.uint8, what)
        self.pad_mode = _zeros((self.num_envs, c), np.uint8, what)
        self.valid = _zeros((self.num_envs, c), bool, what)
        self.in_episode = np.zeros(num_envs, dtype=bool)
        self.n_valid = np.zeros(num_envs, dtype=np.int64)
        self.claimed[:] = 1  # slot 0 is the first pending slot of every stream
        self._backs = np.arange(k - 1, -1, -1, dtype=np.int64)  # k-1 ... 0

    def _min_env_capacity(self) -> None:
        need = 2 * self.observation_shape[0] + self.n_step + 2
        if self.env_capacity < need:
            raise ValueError(
                f"capacity {self.env_capacity * self.num_envs} gives {self.env_capacity} slots "
                f"per environment; need at least 2*k + n_step + 2 = {need}."
            )

    def _slot_nbytes(self) -> int:
        return math.prod(self.observation_shape[1:]) + _SLOT_EXTRA + _FRAME_SLOT_EXTRA

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "frames": self.frames,
            "actions": self.actions,
            "rewards": self.rewards,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "ep_pos": self.ep_pos,
            "pad_mode": self.pad_mode,
            "valid": self.valid,
        }

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"claimed": self.claimed, "head": self.head, "in_episode": self.in_episode}

    def _after_load(self) -> None:
        self.n_valid[:] = self.valid.sum(axis=1)

    def clear(self) -> None:
        """Forget every stored transition (the arrays stay allocated)."""
        super().clear()
        self.valid[:] = False
        self.n_valid[:] = 0
        self.in_episode[:] = False
        self.claimed[:] = 1  # slot 0 is the first pending slot of every stream

    def _last_transition_open(self, env: int) -> bool:
        return bool(self.in_episode[env]) and bool(
            self.valid[env, (int(self.head[env]) - 1) % self.env_capacity]
        )

    def _close_stream(self, env: int) -> None:
        # The pending slot already holds the next frame: keep it as the final frame.
        self.head[env] = self._claim_next(env, int(self.head[env]))
        self.in_episode[env] = False

    def __len__(self) -> int:
        return int(self.n_valid.sum())

    # ------------------------------------------------------------------ add
    def _claim_next(self, env: int, slot: int) -> int:
        nxt = (slot + 1) % self.env_capacity
        if self.valid[env, nxt]:
            self.valid[env, nxt] = False
            self.n_valid[env] -= 1
        self.claimed[env] += 1
        return nxt

    def _add(self, envs: npt.NDArray[np.int64], batch: _Transitions) -> None:
        obs, actions, rewards, next_obs, terminated, truncated = batch
        if self.check:
            self._check_envs(envs, obs, next_obs, terminated)
        k = self.stack
        if len(envs) >= self.vector_add_min_envs:
            # Common case in one vectorised pass: mid-episode streams that do not end now.
            fast = (
                self.in_episode[envs]
                & ~terminated[envs].astype(bool)
                & ~truncated[envs].astype(bool)
            )
            if fast.any():
                self._add_continuing(envs[fast], actions, rewards, next_obs)
            envs = envs[~fast]
        for e in envs.tolist():
            h = int(self.head[e])
            ob = obs[e]
            if not self.in_episode[e]:
                pads = ob[:-1]
                if k == 1 or not pads.any():
                    mode, pos0 = _PAD_ZERO, 0
                elif (pads == ob[-1]).all():
                    mode, pos0 = _PAD_REPEAT, 0
                else:
                    for q in range(k - 1):
                        self.frames[e, h] = pads[q]
                        self.ep_pos[e, h] = q
                        self.pad_mode[e, h] = _PAD_ZERO
                        h = self._claim_next(e, h)
                    mode, pos0 = _PAD_ZERO, k - 1
                self.frames[e, h] = ob[-1]
                self.ep_pos[e, h] = pos0
                self.pad_mode[e, h] = mode
                self.in_episode[e] = True
            self.actions[e, h] = actions[e]
            self.rewards[e, h] = rewards[e]
            term = bool(terminated[e])
            trunc = bool(truncated[e])
            self.terminated[e, h] = term
            self.truncated[e, h] = trunc
            self.valid[e, h] = True
            self.n_valid[e] += 1
            nxt = self._claim_next(e, h)
            if not term:
                self.frames[e, nxt] = next_obs[e, -1]
                self.ep_pos[e, nxt] = min(int(self.ep_pos[e, h]) + 1, k - 1)
                self.pad_mode[e, nxt] = self.pad_mode[e, h]
                self.terminated[e, nxt] = False
                self.truncated[e, nxt] = False
                if trunc:
                    nxt = self._claim_next(e, nxt)
            if term or trunc:
                self.in_episode[e] = False
            self.head[e] = nxt

    def _add_continuing(
        self,
        envs: npt.NDArray[np.int64],
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
    ) -> None:
        """Vectorised `add` for streams in mid-episode whose transition does not end it."""
        c = self.env_capacity
        h = self.head[envs]
        nxt = (h + 1) % c
        cur = envs * c + h  # flat slot indices
        new = envs * c + nxt
        valid, ep_pos, pad_mode = (
            self.valid.reshape(-1),
            self.ep_pos.reshape(-1),
            self.pad_mode.reshape(-1),
        )
        terminated, truncated = self.terminated.reshape(-1), self.truncated.reshape(-1)
        self.actions.reshape(-1)[cur] = actions[envs]
        self.rewards.reshape(-1)[cur] = rewards[envs]
        terminated[cur] = False
        truncated[cur] = False
        valid[cur] = True
        self.n_valid[envs] += 1 - valid[new].astype(np.int64)
        valid[new] = False
        self.claimed[envs] += 1
        self.frames.reshape(-1, *self.frames.shape[2:])[new] = next_obs[envs, -1]
        ep_pos[new] = np.minimum(ep_pos[cur] + 1, self.stack - 1)
        pad_mode[new] = pad_mode[cur]
        terminated[new] = False
        truncated[new] = False
        self.head[envs] = nxt

    def _check_envs(
        self,
        envs: npt.NDArray[np.int64],
        obs: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
    ) -> None:
        """Vectorised frame-stack checks of `add` (see ``check``)."""
        # Per-env byte comparisons: faster than elementwise ops for 84x84 frames.
        head, in_episode, frames, k = self.head, self.in_episode, self.frames, self.stack
        for e in envs.tolist():
            if in_episode[e] and obs[e, -1].tobytes() != frames[e, head[e]].tobytes():
                raise ValueError(
                    f"Environment {e}: obs does not continue the stored episode (its newest "
                    "frame differs from the previous next_obs). Pass the true next_obs (the "
                    "final observation at an episode end), mark episode ends with terminated "
                    "/ truncated, skip the reset step of next-step autoreset envs (env_mask), "
                    "and call end_episodes() after resetting environments yourself."
                )
            if k > 1 and not terminated[e] and next_obs[e, :-1].tobytes() != obs[e, 1:].tobytes():
                raise ValueError(
                    f"Environment {e}: next_obs[:-1] != obs[1:]: the step's observation "
                    f"does not continue the one acted on. Either the env was reset or "
                    f"stepped by other code since that observation (DQN: continue with "
                    f"set_env(env) or DQN.load(..., force_reset=True), which start a new "
                    f"game), or observations of shape {self.observation_shape} are not "
                    "frame stacks, oldest frame first (use VectorReplayBuffer for other "
                    "image observations)."
                )

    # ------------------------------------------------------------------ sampling
    def sampleable(self, flat: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which flat indices hold a transition that `sample_indices` may draw now.

        Not padding or final-frame slots, not the pending slot, not slots whose older
        frames the write cursor has overwritten, and only complete n-step windows.
        """
        c = self.env_capacity
        env, slot = np.divmod(flat, c)
        ok = self.valid.reshape(-1)[flat]
        # Older frames of the stack must not have been overwritten by the cursor.
        ahead = (slot - self.head[env]) % c
        ok &= ahead > self.ep_pos.reshape(-1)[flat]
        if self.n_step > 1:  # one-step windows of valid slots are always complete
            lengths = self.windows(flat)[3]
            ok &= self._window_complete(flat, lengths)
        return ok

    def stack_plan(
        self,
        indices: npt.NDArray[np.int64],
        lengths: npt.NDArray[np.int64],
        terminated: npt.NDArray[np.bool_],
    ) -> StackPlan:
        """Where the frames of the ``obs`` and ``next_obs`` stacks of transitions lie.

        The one statement of this buffer's frame-stack rule: the stack of slot ``i`` is
        ``frames[i-k+1 .. i]``, the positions before the episode's first frame replaced by
        its padding (the first frame again, or zeros); ``next_obs`` is the stack
        ``lengths`` slots later.

        Args:
            indices: Flat transition indices.
            lengths: Rewards used per transition (`windows`).
            terminated: Transitions whose window ends with a termination: the newest
                frame of their ``next_obs`` is zero (it is not stored).

        Returns:
            The `StackPlan`.
        """
        c, k = self.env_capacity, self.stack
        env, slot = np.divmod(indices, c)
        ep_pos = self.ep_pos.reshape(-1)[indices].astype(np.int64)
        mode = self.pad_mode.reshape(-1)[indices]
        obs_frames, obs_zero = self._stack_frames(env, slot, ep_pos, mode)
        next_frames, next_zero = self._stack_frames(
            env, (slot + lengths) % c, np.minimum(ep_pos + lengths, k - 1), mode
        )
        next_zero[:, -1] |= terminated
        return StackPlan(obs_frames, obs_zero, next_frames, next_zero)

    def _stack_frames(
        self,
        env: npt.NDArray[np.int64],
        slot: npt.NDArray[np.int64],
        ep_pos: npt.NDArray[np.int64],
        mode: npt.NDArray[np.uint8],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Frame rows and zero-padding mask of the stacks ending at ``slot``."""
        c = self.env_capacity
        back = self._backs[None, :]
        pos = ep_pos[:, None]
        rows = env[:, None] * c + (slot[:, None] - np.minimum(back, pos)) % c
        return rows, (back > pos) & (mode[:, None] == _PAD_ZERO)

    def _gather_observations(
        self, indices: npt.NDArray[np.int64], windows: NStepReturns, out: ReplayBatch
    ) -> None:
        plan = self.stack_plan(indices, windows.lengths, windows.dones > 0)
        frames = self.frames.reshape(-1, *self.frames.shape[2:])
        for rows, zero, target in (
            (plan.obs_frames, plan.obs_zero, out.obs),
            (plan.next_frames, plan.next_zero, out.next_obs),
        ):
            np.take(frames, rows, axis=0, out=target, mode="clip")
            if zero.any():
                target[zero] = 0


_CHUNK_BYTES = 1 << 26


def _read_npy_header(f: Any, path: Path, name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Parse a ``.npy`` header without unpickling anything."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"{path}: array {name!r} uses .npy format {version}, expected 1.0/2.0.")
    if fortran or dtype.hasobject:
        raise ValueError(
            f"{path}: array {name!r} is {'Fortran-ordered' if fortran else 'an object array'}; "
            "replay files hold C-ordered plain arrays only."
        )
    return tuple(int(s) for s in shape), dtype


def _read_into(f: Any, target: np.ndarray, path: Path, name: str) -> None:
    """Fill a C-contiguous ``target`` from the stream ``f`` in bounded chunks."""
    if not target.flags.c_contiguous:  # pragma: no cover - internal invariant
        raise RuntimeError(f"internal error: {name!r} target is not contiguous")
    flat = target.reshape(-1).view(np.uint8)
    total = flat.nbytes
    done = 0
    while done < total:
        chunk = f.read(min(_CHUNK_BYTES, total - done))
        if not chunk:
            raise ValueError(
                f"{path}: array {name!r} is truncated ({done} of {total} bytes); "
                "the file is incomplete."
            )
        flat[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        done += len(chunk)


def _mask_envs(env_mask: npt.ArrayLike | None, num_envs: int) -> npt.NDArray[np.int64]:
    if env_mask is None:
        return np.arange(num_envs)
    mask = np.asarray(env_mask, dtype=bool)
    if mask.shape != (num_envs,):
        raise ValueError(f"env_mask must have shape ({num_envs},), got {mask.shape}.")
    return np.flatnonzero(mask)


def make_replay_buffer(
    observation_space: Any,
    capacity: int,
    num_envs: int = 1,
    n_step: int = 1,
    gamma: float = 0.99,
    *,
    check: bool = True,
    allow_large: bool | None = None,
) -> FrameReplayBuffer | VectorReplayBuffer:
    """Create the replay buffer that suits an observation space.

    uint8 observations of shape ``(k, H, W)`` with ``k`` smaller than ``H`` and ``W``
    (channel-first frame stacks) get a `FrameReplayBuffer`; everything else a
    `VectorReplayBuffer`.

    Args:
        observation_space: A gymnasium ``Box`` (``shape`` and ``dtype`` are read) of ONE
            environment (``single_observation_space`` of a vector env).
        capacity: Total transitions over all environments.
        num_envs: Number of environments.
        n_step: n-step returns.
        gamma: Discount for n-step returns.
        check: Frame buffer only: verify the frame-stack rule in ``add``.
        allow_large: Allow a buffer larger than `available_memory` (``None``: the
            `ALLOW_LARGE_ENV` environment variable decides).

    Returns:
        The buffer.

    Raises:
        ValueError: A count below 1 or a capacity too small.
        ReplayTooLargeError: The buffer needs more than the available memory (the message
            says how much it needs, how much is free, and what to change).
    """
    shape = tuple(int(s) for s in observation_space.shape)
    dtype = np.dtype(observation_space.dtype)
    if is_image_space(shape, dtype):
        return FrameReplayBuffer(
            shape, capacity, num_envs, n_step, gamma, check=check, allow_large=allow_large
        )
    return VectorReplayBuffer(
        shape, dtype, capacity, num_envs, n_step, gamma, allow_large=allow_large
    )
