#!/usr/bin/env bash
# Train (or resume) an atari-fast run of any Atari id in 30-minute chunks, each ending
# with a checkpoint in ~/.cache/dqn-agents/runs/$RUN_NAME (model + optimizer + replay
# memory + progress.json with every finished game); run_pong_fast.sh is its Pong call:
#   setsid nohup bash benchmarks/run_atari_fast.sh ALE/Breakout-v5 0 \
#     > ~/.cache/dqn-agents/runs/breakout-fast-s0.log 2>&1 &
# The run's name defaults to <game>-fast-s<seed> (breakout-fast-s0); TARGET (default 18)
# is the mean raw score over the last 20 training games that ends the run. On a fresh
# machine the run resumes from benchmarks/checkpoints/<name> when that was committed.
# HYPERPARAMETERS (JSON) change values from the resumed step on; TORCH_THREADS, MAX_STEPS
# (default 20M), CHUNK_SECONDS (default 1800) and PYTHON (default python) set the threads,
# the last step, the chunk length and the interpreter.
set -u
env_id=${1:?usage: run_atari_fast.sh ENV_ID [SEED]}
seed=${2:-0}
game=$(basename "$env_id" | sed -e 's/-v[0-9]*$//' | tr '[:upper:]' '[:lower:]')
here=$(cd "$(dirname "$0")" && pwd)
runs=${DQN_AGENTS_RUNS:-$HOME/.cache/dqn-agents/runs}
name=${RUN_NAME:-$game-fast-s$seed}
run=$runs/$name
python=${PYTHON:-python}
if [ ! -f "$run/progress.json" ] && [ -f "$here/checkpoints/$name/progress.json" ]; then
  mkdir -p "$run"
  cp "$here/checkpoints/$name/agent.zip" "$here/checkpoints/$name/progress.json" "$run/"
  echo "seeded $run from the committed checkpoint"
fi
export PYTHONUNBUFFERED=1
for _ in $(seq 1 40); do
  "$python" "$here/time_to_score.py" --env "$env_id" --preset atari-fast --seed "$seed" \
    --target "${TARGET:-18}" --window 20 --max-steps "${MAX_STEPS:-20000000}" --time-limit "${CHUNK_SECONDS:-1800}" \
    --checkpoint "$run" --verbose --hyperparameters "${HYPERPARAMETERS:-}" ${TORCH_THREADS:+--torch-threads "$TORCH_THREADS"} || exit 1
  grep -q '"reached": null' "$run/progress.json" || break
  grep -q '"stopped_by": "max_steps"' "$run/progress.json" && break
done
echo RUN_DONE
