#!/usr/bin/env bash
# Train (or resume) the atari-fast Pong run of issue 11 in 30-minute chunks, each ending
# with a checkpoint in ~/.cache/dqn-agents/runs/pong-fast-s$SEED (model + optimizer +
# replay memory + progress.json with every finished game). Start it in the background:
#   setsid nohup bash benchmarks/run_pong_fast.sh 0 > ~/.cache/dqn-agents/runs/pong-fast-s0.log 2>&1 &
# On a fresh machine the run resumes from the checkpoint committed in
# benchmarks/checkpoints/pong-fast-s$SEED (weights, optimizer, counters, RNGs; the replay
# memory is too large for git, so learn refills it first). TORCH_THREADS=1 keeps the run
# on one core while other work shares the machine. A variant of the preset:
#   RUN_NAME=pong-fast-lr25-s1 HYPERPARAMETERS='{"learning_rate": 0.00025}' bash benchmarks/run_pong_fast.sh 1
# A copy of a run's folder with other HYPERPARAMETERS goes on from the copy's step with
# them (the change and its step are recorded in progress.json), e.g. a lower learning rate
# from seed 0's 5M-step checkpoint on:
#   cp -r $runs/pong-fast-s0 $runs/pong-fast-s0-lr25
#   RUN_NAME=pong-fast-s0-lr25 HYPERPARAMETERS='{"learning_rate": 2.5e-05}' bash benchmarks/run_pong_fast.sh 0
# The loop itself is run_atari_fast.sh's (any Atari id); this is its Pong invocation,
# with the same variables (RUN_NAME, HYPERPARAMETERS, TORCH_THREADS, MAX_STEPS,
# CHUNK_SECONDS, PYTHON: see run_atari_fast.sh).
set -u
exec bash "$(cd "$(dirname "$0")" && pwd)/run_atari_fast.sh" ALE/Pong-v5 "${1:-0}"
