#!/usr/bin/env bash
# One session on a lent GPU for issue #19 (docs/performance.md "GPU", docs/training.md "The demo
# model on a GPU"). Run from the repository root; everything it keeps goes to $OUT (at most 8
# files come back from the device tool):
#   session.log          nvidia-smi, the gpu tests, the benchmark's progress, both training stages
#   gpu-bench.json       symnet-bench --device cuda (model-only, channels_last, predictor,
#                        propagation of 1000 demo images, bf16/fp16 mask agreement)
#   base-log.csv, meta-log.csv, summaries.json   the two training stages
#   demo_model_gpu.pth   the meta stage's best.pth
# Order: the base training stage runs in the background while the gpu tests run (neither is
# timed); the benchmark runs alone; then the meta stage. Each step is capped by `timeout` and by
# the trainer's --time-budget, so the whole script ends in about 7.5 minutes.
set -u -o pipefail
export OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
PY=${PY:-python3}
BASE_BUDGET=${BASE_BUDGET:-140}
META_BUDGET=${META_BUDGET:-140}
LOG="$OUT/session.log"
T0=$(date +%s)
say() { echo "=== [$(( $(date +%s) - T0 )) s] $*" | tee -a "$LOG"; }

say "environment"
{ nvidia-smi; $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"; nproc; free -g; git rev-parse --short HEAD 2>/dev/null; } 2>&1 | tee -a "$LOG"

say "training, base stage (background, --time-budget $BASE_BUDGET)"
timeout $(( BASE_BUDGET + 60 )) $PY -m symnet_core.training.train --config symnet_core/assets/demo/demo_base_gpu.yaml \
    --time-budget "$BASE_BUDGET" > "$OUT/base.txt" 2>&1 &
BASE_PID=$!

say "gpu tests"
timeout 150 $PY -m pytest -q -p no:cacheprovider -m gpu tests/integration/test_gpu.py 2>&1 | tee -a "$LOG"

say "waiting for the base stage"
wait $BASE_PID; echo "base stage exit $?" | tee -a "$LOG"
cat "$OUT/base.txt" >> "$LOG"; rm -f "$OUT/base.txt"

say "benchmark"
timeout 200 $PY -m symnet_core.cli.bench --device cuda --image-sizes 473 641 --batch-sizes 1 16 64 \
    --precisions fp32 bf16 fp16 --repeats 5 --warmup 2 --propagation 1000 --propagation-batch 16 \
    --agreement --agreement-queries 50 --json "$OUT/gpu-bench.json" 2>&1 >/dev/null | tee -a "$LOG"

LIMIT=${LIMIT:-520}   # the whole script, seconds (the device call's timeout_s is a little larger)
left=$(( LIMIT - ($(date +%s) - T0) - 40 ))
[ "$left" -lt "$META_BUDGET" ] && META_BUDGET=$left
say "training, meta stage (--time-budget $META_BUDGET)"
if [ "$META_BUDGET" -lt 40 ]; then
    say "too little time left: meta stage skipped"
elif [ -f runs/demo_gpu/base/final.pth ]; then
    timeout $(( META_BUDGET + 60 )) $PY -m symnet_core.training.train --config symnet_core/assets/demo/demo_gpu.yaml \
        --time-budget "$META_BUDGET" 2>&1 | tee -a "$LOG"
else
    say "no base checkpoint: meta stage skipped"
fi

left=$(( LIMIT - ($(date +%s) - T0) - 20 ))
if [ "$left" -gt 60 ]; then
    say "torch.compile test (off by default in the app; ${left} s left)"
    SYMNET_GPU_COMPILE=1 timeout $(( left < 120 ? left : 120 )) $PY -m pytest -q -p no:cacheprovider -m gpu \
        tests/integration/test_gpu.py -k compile 2>&1 | tee -a "$LOG"
fi

say "collecting"
cp runs/demo_gpu/base/log.csv "$OUT/base-log.csv" 2>/dev/null
cp runs/demo_gpu/meta/log.csv "$OUT/meta-log.csv" 2>/dev/null
cp runs/demo_gpu/meta/best.pth "$OUT/demo_model_gpu.pth" 2>/dev/null
$PY - <<'PYEOF' 2>&1 | tee -a "$LOG"
import json, os
from pathlib import Path
out = {}
for stage in ("base", "meta"):
    p = Path(f"runs/demo_gpu/{stage}/summary.json")
    out[stage] = json.loads(p.read_text()) if p.is_file() else None
Path(os.environ["OUT"], "summaries.json").write_text(json.dumps(out, indent=1))
print(json.dumps(out)[:2000])
PYEOF
ls -la "$OUT" | tee -a "$LOG"
say "done"
