#!/usr/bin/env bash
# Packs .gpu/ for Bench/gpu-run.sh on the GPU machine, which has no .NET, within the device tool's 64 MiB carry limit.
# From the project root (a fresh clone works: nothing outside the project is needed):   bash Bench/gpu-pack.sh
# Writes (git-ignored, .gitignore):
#   .gpu/dotnet-runtime-VER.tar.xz  this machine's Microsoft.NETCore.App runtime and the dotnet host (packed once)
#   .gpu/app.tar.xz                 Engine.Tests and Engine.Bench, published framework-dependent for linux-x64 only
#   .gpu/COMMIT                     the commit packed
# What keeps it small (docs/gpu.md §2): -r linux-x64 (a portable publish carries every RID's native libraries:
# ONNX Runtime and SkiaSharp for win/osx/android/ios/arm..., 412 of the 457 MB of runtimes/), no PDBs, no XML docs,
# English resources only, no code-coverage collector, no Windows-only natives; framework-dependent (the shared runtime is packed
# once for both programs) and untrimmed (ILGPU compiles kernels from their IL and xunit and BenchmarkDotNet find
# tests and benchmarks by reflection: trimming would remove what they look up); both programs in one xz stream, so
# the assemblies they share are stored once. Exits 1 if .gpu/ exceeds 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$((64 * 1024 * 1024))
mkdir -p .gpu
stage=$(mktemp -d "${TMPDIR:-/tmp}/engine-gpu-pack.XXXXXX")
trap 'rm -rf "$stage"' EXIT

dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
ver=$(dotnet --list-runtimes | awk '/^Microsoft.NETCore.App /{v=$2} END{print v}')
runtime=.gpu/dotnet-runtime-$ver.tar.xz
if [ ! -f "$runtime" ]; then
  echo "packing the .NET $ver runtime (once)"
  rm -f .gpu/dotnet-runtime-*.tar.xz
  tar -C "$dotnet_root" -cf - dotnet host "shared/Microsoft.NETCore.App/$ver" | xz -T0 -9 > "$runtime.part"
  mv "$runtime.part" "$runtime"
fi

for project in Tests/Engine.Tests.csproj Bench/Engine.Bench.csproj; do
  name=$(basename "$project" .csproj)
  echo "publishing $name (linux-x64, framework-dependent)"
  dotnet publish "$project" -c Release -r linux-x64 --self-contained false -o "$stage/$name" --nologo -v q \
    -p:DebugType=none -p:DebugSymbols=false -p:GenerateDocumentationFile=false -p:SatelliteResourceLanguages=en
  # Windows-only natives that a linux-x64 publish still copies: ONNX Runtime's onnxruntime*.dll (20.6 MB; Linux loads
  # libonnxruntime.so), BenchmarkDotNet's ETW/DIA diagnosers (amd64/, arm64/, x86/) and the disassembler's
  # libcapstone.so (6.9 MB; no run there disassembles).
  rm -rf "$stage/$name/Microsoft.CodeCoverage" "$stage/$name"/{amd64,arm64,x86} "$stage/$name"/onnxruntime*.dll "$stage/$name/libcapstone.so"
  find "$stage/$name" \( -name '*.pdb' -o -name '*.xml' \) -delete
done
rm -f .gpu/app.tar.xz
tar -C "$stage" -cf - . | xz -T0 -9 > .gpu/app.tar.xz
git rev-parse --short HEAD > .gpu/COMMIT 2>/dev/null || echo unknown > .gpu/COMMIT

rm -rf .gpu/app   # an unpacked bundle left by a dry run is not carried
size=$(du -sb .gpu | cut -f1)
du -b .gpu/* | awk '{printf "  %6.1f MiB  %s\n", $1 / 1048576, $2}'
echo ".gpu/ is $(awk -v s="$size" 'BEGIN{printf "%.1f", s / 1048576}') MiB (limit 64 MiB); the programs unpacked: $(du -sh "$stage" | cut -f1)"
[ "$size" -le "$limit" ] || { echo "gpu-pack: .gpu/ is over the 64 MiB carry limit"; exit 1; }
