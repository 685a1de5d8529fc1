#!/usr/bin/env bash
# The ONE prepared device call (docs/gpu.md §3). On the GPU machine, from the project root, carrying .gpu
# (made by Bench/gpu-pack.sh) with the working tree, command `bash Bench/gpu-run.sh`, timeout_s 600:
#   the test suite on CUDA (ENGINE_TEST_DEVICES=cpu,cuda), SGEMM 4096^3 and the large workload's layer shapes beside
#   torch.mm (TF32 off), fused Adam over 10M and 100M parameters beside a device copy and torch.optim.Adam(fused=True),
#   Gram/projection for 4 tasks over 10M parameters, the training steps beside PyTorch eager CUDA, and the launch/sync
#   count of one step. Each part runs under its own time budget (`part NAME SECONDS ...` below; together they leave
#   ~40 s of the 600 s limit), so one slow part cannot eat the others; a part that fails or runs out is reported and the
#   next one starts.
# Writes under $OUT (at most 8 files come back): summary.md (every table and each part's status and time),
# tests.txt (the test run's output), logs.tar.gz (every part's full log).
# DRY_RUN=1 (here, no GPU): every part at tiny sizes on the CPU (engine on `cpu`, the launch count on ILGPU's CPU
# accelerator, one test class, torch on the CPU), through the packed bundle when .gpu/ exists, else through the local
# Release build; OUT defaults to a temporary folder. Tests/Bench/GpuRunScriptTests checks it (ENGINE_GPU_DRY_RUN=1).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dry=${DRY_RUN:-0}
if [ -z "${OUT:-}" ]; then
  [ "$dry" = 1 ] || { echo "gpu-run: OUT is not set (the device tool sets it; DRY_RUN=1 makes a temporary one)"; exit 2; }
  OUT=$(mktemp -d)
fi
mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/engine-gpu.XXXXXX")
logs=$work/logs
mkdir -p "$logs"
summary=$OUT/summary.md
# .gpu/app is unpacked inside the repository (tests find the repository root, Engine.sln, above their binaries) and
# removed at the end, so .gpu/ keeps only what is carried.
trap 'tar -C "$work" -czf "$OUT/logs.tar.gz" logs 2>/dev/null; rm -rf "$work" "$repo/.gpu/app"' EXIT
say() { echo "$*" | tee -a "$summary"; }
: > "$summary"
say "# Bench/gpu-run.sh $( [ "$dry" = 1 ] && echo '(DRY_RUN: CPU, tiny sizes)' ), $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(cat .gpu/COMMIT 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown)"
t0=$(date +%s)

# part NAME BUDGET_SECONDS COMMAND...: runs COMMAND under `timeout`, its output to logs/NAME.txt, its status into the summary.
failures=0
part() {
  local name=$1 budget=$2; shift 2
  local start=$(date +%s) rc
  timeout -k 5 "$budget" "$@" > "$logs/$name.txt" 2>&1; rc=$?
  local took=$(( $(date +%s) - start )) status=ok
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status="TIMED OUT (budget ${budget} s)"; failures=$((failures + 1))
  elif [ "$rc" -ne 0 ]; then status="FAILED (exit $rc)"; failures=$((failures + 1)); fi
  { echo; echo "## $name: $status, ${took} s of ${budget} s"; echo; } >> "$summary"
  if [ "$name" = tests ]; then
    grep -E '^\s*(total|failed|succeeded|skipped|duration):|^(failed|Test run summary)' "$logs/$name.txt" | tail -n 80 >> "$summary"
    tail -c 15000000 "$logs/$name.txt" > "$OUT/tests.txt"
  else
    tail -n 120 "$logs/$name.txt" >> "$summary"
  fi
  echo "part $name: $status (${took} s)"
}

# The programs: the packed bundle (runtime + apps, unpacked once into $work) or, in a dry run without it, the local build.
if [ -f .gpu/app.tar.xz ]; then
  part unpack 40 bash -c "rm -rf .gpu/app && mkdir -p '$work/dotnet' .gpu/app && tar -xJf .gpu/dotnet-runtime-*.tar.xz -C '$work/dotnet' && tar -xJf .gpu/app.tar.xz -C .gpu/app"
  dotnet_exe=$work/dotnet/dotnet
  export DOTNET_ROOT=$work/dotnet
  app() { echo "$repo/.gpu/app/$1/$1.dll"; }
elif [ "$dry" = 1 ]; then
  dotnet_exe=$(command -v dotnet)
  app() { case $1 in Engine.Tests) echo Tests/bin/Release/net10.0/Engine.Tests.dll;; *) echo Bench/bin/Release/net10.0/$1.dll;; esac; }
else
  say "gpu-run: no .gpu/app.tar.xz: run Bench/gpu-pack.sh here and carry .gpu"; exit 2
fi
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
bench=("$dotnet_exe" "$(app Engine.Bench)")   # an array, not a function: `timeout` runs programs only
tests=("$dotnet_exe" "$(app Engine.Tests)")

# ILGPU opens the driver as libcuda.so; GPU images often ship only libcuda.so.1.
ldc=$(command -v ldconfig || echo /sbin/ldconfig)
if ! "$ldc" -p 2>/dev/null | grep -q 'libcuda\.so '; then
  lib=$("$ldc" -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF}' | head -n 1 || true)
  [ -n "$lib" ] || lib=$(ls /usr/local/nvidia/lib64/libcuda.so.1 /usr/lib/x86_64-linux-gnu/libcuda.so.1 2>/dev/null | head -n 1 || true)
  if [ -n "$lib" ]; then mkdir -p "$work/cuda"; ln -sf "$lib" "$work/cuda/libcuda.so"; export LD_LIBRARY_PATH=$work/cuda${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; fi
fi

# The peer's Python: the first with torch (PYTHON overrides). The device's torch may differ from 1.13 here: the peers say which.
python=${PYTHON:-}
for p in python3 /usr/bin/python3; do
  [ -z "$python" ] && "$p" -c 'import torch' 2>/dev/null && python=$p
done
python=${python:-python3}

peers=Bench/peers
part machine 30 bash -c "nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1 || echo 'no nvidia-smi';
  '$python' -c 'import torch,sys; print(\"python\", sys.version.split()[0], \"torch\", torch.__version__, \"CUDA\", torch.version.cuda, \"available\", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else \"\")' 2>&1;
  nproc; free -g | head -2"

if [ "$dry" = 1 ]; then
  dev=cpu; timer=(--repeats 1 --block-ms 1 --warmup-ms 0 --python "$python")
  part tests 120 env ENGINE_TEST_DEVICES=cpu "${tests[@]}" --filter-class Engine.Tests.Kernels.DivideByCountTests
  part gemm 60 "${bench[@]}" gpu gemm --device $dev "${timer[@]}" --size 64 --scale 16
  part adam 60 "${bench[@]}" gpu adam --device $dev "${timer[@]}" --params 4096,8192
  part gram 60 "${bench[@]}" gpu gram --device $dev "${timer[@]}" --params 4096 --tasks 4
  part steps 60 "${bench[@]}" gpu steps --device $dev "${timer[@]}" --only small
  part launches 300 "${bench[@]}" launches --device ilgpu-cpu --workload small
else
  dev=cuda; timer=(--repeats 5 --block-ms 40 --warmup-ms 300 --python "$python")
  part tests 200 env ENGINE_TEST_DEVICES=cpu,cuda "${tests[@]}" --show-slowest-tests 15
  part gemm 60 "${bench[@]}" gpu gemm --device $dev "${timer[@]}" --size 4096
  part adam 70 "${bench[@]}" gpu adam --device $dev "${timer[@]}" --params 10000000,100000000
  part gram 40 "${bench[@]}" gpu gram --device $dev "${timer[@]}" --params 10000000 --tasks 4
  part steps 80 "${bench[@]}" gpu steps --device $dev "${timer[@]}" --only small,medium,large
  part launches 30 "${bench[@]}" launches --device cuda
fi
say ""
say "gpu-run: $failures part(s) failed or timed out; $(( $(date +%s) - t0 )) s in all; peers in $peers, python $python"
[ "$failures" -eq 0 ]
