#!/usr/bin/env bash
# The GPU figures of issue 6 in ONE call on a lent GPU machine (see docs/contributing.md).
#
# Prepare once, on the CPU machine, in the project root:
#     bash ../shared/device-wheels.sh            # gymnasium, ale-py, SB3 wheels -> .whl/
# Then one `run` of the device tool, carrying ".whl", with a timeout that leaves a margin:
#     command:   bash benchmarks/gpu_session.sh
#     carry:     [".whl"]        timeout_s: 590
# Everything it measures lands in $OUT (at most 8 files come back):
#     gpu_tests.log, throughput_gpu.json, throughput_gpu.log, time_to_score.json,
#     time_to_score.log
# The time-to-score run checkpoints to runs/time_to_score (kept while the machine is
# warm): calling the script again resumes it, with the other steps skipped by
# SKIP_THROUGHPUT=1.
#
# Dry run on a CPU machine (short, small replay):
#     DEVICE=cpu STEPS=1500 TOTAL_S=240 THROUGHPUT_S=150 \
#       TTS_ARGS='--hyperparameters {"buffer_size":20000}' bash benchmarks/gpu_session.sh
#
# Budget (seconds, overridable): the tests ~30, the throughput runs THROUGHPUT_S, the rest
# of TOTAL_S trains Pong.
set -uo pipefail
TOTAL_S=${TOTAL_S:-570}
THROUGHPUT_S=${THROUGHPUT_S:-200}
STEPS=${STEPS:-20000}
NUM_ENVS=${NUM_ENVS:-8}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu for a dry run of the script on a CPU machine
OUT=${OUT:-$PWD/runs/gpu_out}
mkdir -p "$OUT"
start=$(date +%s)
left() { echo $((TOTAL_S - ($(date +%s) - start))); }

if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "no nvidia-smi"; } \
  >"$OUT/gpu_tests.log" 2>&1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
  | tee -a "$OUT/gpu_tests.log"

# 1. The CUDA code paths against the plain ones (skipped on CPU-only machines).
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_speed_paths.py \
  tests/test_networks.py >>"$OUT/gpu_tests.log" 2>&1
echo "tests rc=$?" | tee -a "$OUT/gpu_tests.log"

# 2. Ours (1 env and the vector path) vs SB3 on the same GPU, interleaved, same call.
if [ -z "${SKIP_THROUGHPUT:-}" ]; then
  timeout "$THROUGHPUT_S" python3 benchmarks/throughput.py --device "$DEVICE" --steps "$STEPS" \
    --repeats 1 --num-envs "$NUM_ENVS" --skip-cartpole --json "$OUT/throughput_gpu.json" \
    >"$OUT/throughput_gpu.log" 2>&1
  echo "throughput rc=$?" >>"$OUT/throughput_gpu.log"
fi

# 3. The default DQN("ALE/Pong-v5") until the mean raw score of the last 20 games is 18.
limit=$(( $(left) - 40 ))
if [ "$limit" -gt 60 ]; then
  timeout $((limit + 35)) python3 benchmarks/time_to_score.py --env ALE/Pong-v5 --target 18 \
    --window 20 --device "$DEVICE" --time-limit "$limit" --checkpoint runs/time_to_score \
    --json "$OUT/time_to_score.json" ${TTS_ARGS:-} >>"$OUT/time_to_score.log" 2>&1
  echo "time_to_score rc=$?" >>"$OUT/time_to_score.log"
fi
tail -n 3 "$OUT"/*.log
