"""A device-resident view of a `dqn_agents.replay.FrameReplayBuffer`'s frames.

On a GPU the replay's frames can live in GPU memory (1M frames of 84x84 uint8 are about
7 GB), so a minibatch is sampled, stacked and handed to the network without leaving the
device: the host only draws the indices (with the same numpy generator as the plain
path, so the same seed gives the same batches) and sends a few hundred index bytes; the
``2 * batch * k`` frames are gathered on the device by one ``index_select``.

Layout and synchronisation. The replay buffer stays the owner of everything (its numpy
bookkeeping decides what is sampleable, its ``save``/``load`` files are unchanged); this
store keeps a torch copy of ``replay.frames`` on the device and, before each sample,
copies the frames written since the last sample. Every ``add`` writes frames only into
the slots between a stream's old and new write cursor (``head``), and every write claims
slots in order, so the slots to copy follow from the change of ``claimed`` and ``head``;
``load``/``clear`` (watched) or a stream that wrapped around since the last sync copy
the stream whole (call `DeviceFrameStore.invalidate` after writing the arrays by hand).
The host keeps its numpy frames (a mirror), so host memory holds the frames once and the
device once.

On CPU (``device="cpu"``) the store's tensor *is* the numpy array (``torch.from_numpy``,
shared memory): nothing is copied and nothing needs syncing, and the batches are
byte-identical to `FrameReplayBuffer.get_batch`. ``mirror=True`` forces the copying mode
on CPU (tests use it to check the incremental sync without a GPU).

Example:
    >>> import numpy as np, gymnasium as gym
    >>> from dqn_agents.replay import make_replay_buffer
    >>> space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    >>> replay = make_replay_buffer(space, capacity=100)
    >>> store = DeviceFrameStore(replay, "cpu")
    >>> store.mirror
    False
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from dqn_agents.replay import FrameReplayBuffer

__all__ = ["DeviceFrameStore"]


class DeviceFrameStore:
    """Frames of a `FrameReplayBuffer` on a torch device, with device-side batches.

    Args:
        replay: The frame replay buffer.
        device: Torch device for the frames and the batches.
        mirror: Keep a separate device copy that is synced incrementally (default: only
            when ``device`` is not the CPU; on CPU the numpy frames are shared).

    Raises:
        TypeError: ``replay`` is not a frame buffer (it has no ``frames`` array).
    """

    def __init__(
        self, replay: FrameReplayBuffer, device: str | torch.device, *, mirror: bool | None = None
    ) -> None:
        frames = getattr(replay, "frames", None)
        if not isinstance(frames, np.ndarray) or frames.ndim != 4:
            raise TypeError(
                f"DeviceFrameStore needs a FrameReplayBuffer (frames of shape (envs, slots, "
                f"H, W)), got {type(replay).__name__}."
            )
        self.replay = replay
        self.device = torch.device(device)
        self.mirror = self.device.type != "cpu" if mirror is None else bool(mirror)
        self._pin = self.device.type == "cuda"
        if self.mirror:
            self.frames = torch.empty(frames.shape, dtype=torch.uint8, device=self.device)
        else:
            self.frames = torch.from_numpy(frames)
        self._flat = self.frames.view(-1, *frames.shape[2:])
        self._claimed = np.full(replay.num_envs, -1, dtype=np.int64)
        self._head = np.zeros(replay.num_envs, dtype=np.int64)
        self._out: torch.Tensor | None = None
        if self.mirror:
            self._watch(replay)
        self.sync()

    def _watch(self, replay: Any) -> None:
        """Resync everything after the buffer's ``load`` / ``clear`` (wraps them)."""
        for name in ("load", "clear"):
            method = getattr(replay, name, None)
            if method is None or getattr(method, "_device_store_hook", False):
                continue

            def hooked(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
                result = _method(*args, **kwargs)
                self.invalidate()
                return result

            hooked._device_store_hook = True  # type: ignore[attr-defined]
            setattr(replay, name, hooked)

    def invalidate(self) -> None:
        """Copy every frame again at the next `sync` (after writing ``replay`` by hand)."""
        self._claimed[:] = -1

    # ------------------------------------------------------------------ sync
    def sync(self) -> int:
        """Copy the frames written since the last call to the device.

        Returns:
            Number of frame slots copied (0 without a mirror).
        """
        replay = self.replay
        if not self.mirror:
            return 0
        c = replay.env_capacity
        claimed, head = replay.claimed, replay.head
        chunks: list[npt.NDArray[np.int64]] = []
        for e in range(replay.num_envs):
            diff = int(claimed[e] - self._claimed[e])
            if diff == 0 and head[e] == self._head[e]:
                continue
            if (
                self._claimed[e] < 0
                or diff < 0
                or diff >= c
                or (self._head[e] + diff) % c != head[e]
            ):
                slots = np.arange(c, dtype=np.int64)  # unknown change: the whole stream
            else:  # the old cursor slot (first frame of an episode) up to the new cursor
                slots = (self._head[e] + np.arange(diff + 1, dtype=np.int64)) % c
            chunks.append(e * c + slots)
            self._claimed[e], self._head[e] = claimed[e], head[e]
        if not chunks:
            return 0
        flat = np.concatenate(chunks)
        host = torch.from_numpy(replay.frames.reshape(-1, *replay.frames.shape[2:])[flat])
        index = torch.from_numpy(flat)
        if self._pin:
            host, index = host.pin_memory(), index.pin_memory()
        self._flat.index_copy_(
            0,
            index.to(self.device, non_blocking=self._pin),
            host.to(self.device, non_blocking=self._pin),
        )
        return len(flat)

    # ------------------------------------------------------------------ batches
    def get_batch(self, indices: npt.ArrayLike) -> tuple[torch.Tensor, ...]:
        """Gather the transitions at ``indices`` (from ``replay.sample_indices``) on the device.

        Call `sync` first when transitions were added since the last batch (`sample` does).

        Args:
            indices: Flat indices.

        Returns:
            ``(obs, actions, rewards, next_obs, dones, discounts)``: uint8 stacks
            ``(B, k, H, W)``, int64 actions, float32 returns / dones / discounts, all on
            the device; the same values as ``replay.get_batch(indices)``.
        """
        replay = self.replay
        flat = np.asarray(indices, dtype=np.int64)
        b = len(flat)
        k = replay.stack
        returns, discounts, dones, lengths = replay.windows(flat)
        plan = replay.stack_plan(flat, lengths, dones > 0)
        # One int64 and one float32 host block: two small copies to the device.
        ints = np.concatenate(
            [plan.obs_frames.ravel(), plan.next_frames.ravel(), replay.actions.reshape(-1)[flat]]
        )
        floats = np.concatenate([returns, dones, discounts]).astype(np.float32, copy=False)
        ints_t, floats_t = torch.from_numpy(ints), torch.from_numpy(floats)
        if self.device.type != "cpu":
            if self._pin:
                ints_t, floats_t = ints_t.pin_memory(), floats_t.pin_memory()
            ints_t = ints_t.to(self.device, non_blocking=self._pin)
            floats_t = floats_t.to(self.device, non_blocking=self._pin)
        n = b * k
        shape = (2 * n, *self._flat.shape[1:])
        if self._out is None or tuple(self._out.shape) != shape:
            self._out = torch.empty(shape, dtype=torch.uint8, device=self.device)
        out = self._out
        torch.index_select(self._flat, 0, ints_t[: 2 * n], out=out)
        zero = np.concatenate([plan.obs_zero.ravel(), plan.next_zero.ravel()])
        if zero.any():
            keep = torch.from_numpy(~zero).to(self.device, non_blocking=False)
            out.mul_(keep.view(-1, *([1] * (out.dim() - 1))).to(torch.uint8))
        stacks = out.view(2, b, k, *self._flat.shape[1:])
        actions = ints_t[2 * n :]
        return stacks[0], actions, floats_t[:b], stacks[1], floats_t[b : 2 * b], floats_t[2 * b :]

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """Sync, draw indices with ``rng`` (as ``replay.sample``) and gather on the device.

        Args:
            batch_size: Number of transitions.
            rng: numpy generator (the same draws as the plain replay path).

        Returns:
            The device batch (see `get_batch`).
        """
        self.sync()
        return self.get_batch(self.replay.sample_indices(batch_size, rng))
