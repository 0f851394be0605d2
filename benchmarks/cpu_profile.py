"""Where the CPU time of ``DQN.learn`` goes, and whether ``torch.compile`` would help.

Three measurements on the machine it runs on, printed and optionally written as the docs'
results JSON:

1. **The loop.** ``DQN("PongNoFrameskip-v4")`` with the settings of
   ``benchmarks/throughput.py`` (one update every 4 agent steps, batch 32), warmed up past
   ``learning_starts``, then ``--steps`` agent steps with a timer around each part of the
   loop: the gradient update, acting (the greedy forward), the emulator with the
   preprocessing, the replay ``add``, and the rest.
2. **The update.** The same agent's update split into its parts (minibatch gather,
   target-network forward, online forward + loss, backward, gradient clipping, fused
   Adam), each timed on its own over ``--updates`` updates with the agent's own networks,
   optimizer and replay.
3. **torch.compile.** One CartPole MLP update (the network where Python overhead matters
   most), eager vs ``torch.compile`` of the loss, after its first compilation.

Usage:
    python benchmarks/cpu_profile.py [--steps 3000] [--updates 100] [--skip-compile]
        [--json docs/benchmarks/results/cpu_profile.json]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import common
import torch
from throughput import COMMON, PONG, TARGET_SYNC_ENV_STEPS

from dqn_agents import DQN
from dqn_agents import agent as agent_module
from dqn_agents.devices import torch_threads
from dqn_agents.functional import q_values_for_actions, td_loss, td_targets


def _timed(timers: dict[str, float], key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timers[key] = timers.get(key, 0.0) + time.perf_counter() - start

    return wrapper


def _pong_agent() -> DQN:
    kwargs: dict[str, Any] = dict(COMMON)
    kwargs["target_update_interval"] = TARGET_SYNC_ENV_STEPS // COMMON["train_freq"]
    agent = DQN(PONG, seed=0, device="cpu", **kwargs)
    agent.learn(COMMON["learning_starts"] + 500)  # past the warm-up: the loop trains
    return agent


def profile_loop(agent: DQN, steps: int) -> tuple[list[list[Any]], float]:
    """Time each part of ``steps`` agent steps of ``learn``; rows of (part, ms, per)."""
    adapter, replay = agent.env_adapter, agent.replay_buffer
    assert adapter is not None and replay is not None
    timers: dict[str, float] = {}
    # The loop's parts, timed through public objects: the learner's updates, the
    # epsilon-greedy choice (the greedy forward) that dqn_agents.agent calls, the env
    # adapter's step and the replay's add.
    patches = [
        (agent.learner, "train", "update"),
        (agent_module, "epsilon_greedy", "act"),
        (adapter, "step", "env"),
        (replay, "add", "add"),
    ]
    saved = [getattr(holder, name) for holder, name, _ in patches]
    for (holder, name, key), original in zip(patches, saved, strict=True):
        setattr(holder, name, _timed(timers, key, original))
    updates = agent.n_updates
    start = time.perf_counter()
    try:
        agent.learn(steps, reset_num_timesteps=False)
    finally:
        for (holder, name, _), original in zip(patches, saved, strict=True):
            setattr(holder, name, original)
    total = time.perf_counter() - start
    n_updates = agent.n_updates - updates
    rest = total - sum(timers.values())
    ms = 1e3
    rows = [
        ["learn() loop: everything, per 4 agent steps", round(total / steps * 4 * ms, 2)],
        ["  gradient update (one per 4 agent steps)", round(timers["update"] / n_updates * ms, 2)],
        [
            "  acting: epsilon-greedy (greedy forward, batch 1), per agent step",
            round(timers["act"] / steps * ms, 3),
        ],
        ["  emulator + preprocessing, per agent step", round(timers["env"] / steps * ms, 3)],
        ["  replay add, per agent step", round(timers["add"] / steps * ms, 3)],
        ["  rest of the loop, per agent step", round(rest / steps * ms, 3)],
    ]
    return rows, steps / total


def profile_update(agent: DQN, updates: int) -> list[list[Any]]:
    """Time the parts of the agent's gradient update; rows of (part, ms)."""
    learner, replay, rng, cfg = agent.learner, agent.replay_buffer, agent.rng, agent.config
    assert agent.q_net_target is not None
    parts = ["gather", "target", "online", "backward", "clip", "adam"]
    timers = dict.fromkeys(parts, 0.0)
    for i in range(updates + 5):
        t0 = time.perf_counter()
        obs, actions, rewards, next_obs, dones, discounts = learner.sample(replay, rng)
        t1 = time.perf_counter()
        with torch.no_grad():
            targets = td_targets(rewards, agent.q_net_target(next_obs), None, dones, discounts)
        t2 = time.perf_counter()
        q = q_values_for_actions(agent.q_net(obs), actions)
        loss = td_loss(q, targets, cfg.loss, cfg.huber_delta)
        t3 = time.perf_counter()
        agent.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t4 = time.perf_counter()
        learner.clip_gradients(float(cfg.max_grad_norm or 10.0))
        t5 = time.perf_counter()
        agent.optimizer.step()
        t6 = time.perf_counter()
        if i >= 5:  # the first updates warm the caches and the oneDNN primitives
            for key, (a, b) in zip(
                parts, [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6)], strict=True
            ):
                timers[key] += b - a
    labels = {
        "gather": "  minibatch gather (stacks by index) + channels-last",
        "target": "  target-network forward, batch 32 (no grad)",
        "online": "  online forward + Huber loss, batch 32",
        "backward": "  backward",
        "clip": "  gradient-norm clipping",
        "adam": "  fused Adam step",
    }
    return [[labels[k], round(timers[k] / updates * 1e3, 2)] for k in parts]


def profile_compile(reps: int = 2000) -> tuple[list[list[Any]], float]:
    """CartPole MLP update, eager vs compiled loss; rows of (part, ms) and compile seconds."""
    agent = DQN("CartPole-v1", seed=0, device="cpu", mlp_hidden_sizes=(64, 64))
    net, target, cfg = agent.q_net, agent.q_net_target, agent.config
    assert target is not None
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, fused=True)
    gen = torch.Generator().manual_seed(0)
    batch = (
        torch.randn(32, 4, generator=gen),
        torch.randint(0, 2, (32,), generator=gen),
        torch.randn(32, generator=gen),
        torch.randn(32, 4, generator=gen),
        torch.zeros(32),
        torch.full((32,), 0.99),
    )

    def loss_fn(*b: torch.Tensor) -> torch.Tensor:
        obs, actions, rewards, next_obs, dones, discounts = b
        with torch.no_grad():
            y = td_targets(rewards, target(next_obs), None, dones, discounts)
        q = net(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        return td_loss(q, y, cfg.loss, cfg.huber_delta)

    def update(fn: Callable[..., torch.Tensor]) -> None:
        loss = fn(*batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def per_update(fn: Callable[..., torch.Tensor]) -> float:
        for _ in range(50):
            update(fn)
        start = time.perf_counter()
        for _ in range(reps):
            update(fn)
        return (time.perf_counter() - start) / reps * 1e3

    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # what the agent uses for MLPs
    try:
        eager = per_update(loss_fn)
        start = time.perf_counter()
        compiled = torch.compile(loss_fn)
        update(compiled)
        compile_s = time.perf_counter() - start
        fast = per_update(compiled)
        eager_again = per_update(loss_fn)
    finally:
        torch.set_num_threads(previous)
    rows = [
        ["CartPole MLP update, eager (two runs)", f"{eager:.3f}, {eager_again:.3f}"],
        ["CartPole MLP update, torch.compile of the loss", round(fast, 3)],
    ]
    return rows, compile_s


def main(argv: list[str] | None = None) -> int:
    """Run the three measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3_000, help="profiled agent steps")
    parser.add_argument("--updates", type=int, default=100, help="updates split into parts")
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--json", default=None, help="write the docs results JSON here")
    args = parser.parse_args(argv)
    agent = _pong_agent()
    with torch_threads(agent.training_threads()):
        update_rows = profile_update(agent, args.updates)
    loop_rows, steps_per_s = profile_loop(agent, args.steps)
    rows = loop_rows[:2] + update_rows + loop_rows[2:]
    compile_note = ""
    if not args.skip_compile:
        compile_rows, compile_s = profile_compile()
        rows += compile_rows
        compile_note = f" torch.compile's first compilation took {compile_s:.1f} s."
    columns = ["Part", "Milliseconds"]
    width = max(len(str(r[0])) for r in rows)
    for row in rows:
        print(f"{row[0]:<{width}}  {row[1]}")
    notes = (
        f"{PONG}, the settings of benchmarks/throughput.py (batch 32, one update per 4 agent "
        f"steps), after {COMMON['learning_starts'] + 500} warm-up steps; {args.steps} agent "
        f"steps timed in the loop ({steps_per_s:.1f} agent steps/s with the timers on), "
        f"{args.updates} updates split into their parts (those parts are timed on their own, "
        f"so their sum differs a little from the update in the loop).{compile_note}"
    )
    print()
    print(notes)
    if args.json:
        data = common.results_table(
            title="Where the CPU time of learn() goes (Pong, Nature CNN, 1 env)",
            source="benchmarks/cpu_profile.py",
            device="cpu",
            columns=columns,
            rows=rows,
            notes=notes,
        )
        common.write_json(args.json, data)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
