#!/usr/bin/env bash
# Fetch, on a machine with network, the wheels that benchmarks/gpu_check.py needs on a GPU machine
# without network whose image already holds a CUDA torch (and numpy, pyarrow, pandas, tokenizers,
# safetensors, typer, rich, ...) but not globmed's training stack or not these versions of it.
# The versions are the ones installed in this checkout's .venv, so both machines run the same code.
#   bash benchmarks/gpu_wheels.sh DIR [PYTHON_VERSION (default 3.12)]
# There:
#   python3 -m pip install --no-index --no-deps --target /tmp/site DIR/*.whl && export PYTHONPATH=/tmp/site
#   python3 benchmarks/gpu_check.py
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: gpu_wheels.sh DIR [PYTHON_VERSION]}
py=${2:-3.12}
venv_python=.venv/bin/python
[ -x "$venv_python" ] || { echo "gpu_wheels.sh: $venv_python not found: run make test (or make install) first" >&2; exit 2; }
mkdir -p "$dir"
# The training stack and what it needs beyond a CUDA torch image (huggingface_hub 2 speaks httpx2;
# transformers checks regex's version at import; DeepSpeed needs hjson and pydantic).
names=(huggingface_hub transformers trl datasets accelerate peft dill multiprocess fsspec httpx2 httpcore2
       truststore h11 anyio idna click regex typing_extensions hjson pydantic pydantic_core annotated_types
       typing_inspection)
pins=$("$venv_python" - "${names[@]}" <<'EOF'
import importlib.metadata as md, sys
print(" ".join(f"{n}=={md.version(n)}" for n in sys.argv[1:]))
EOF
)
# shellcheck disable=SC2086
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$dir" $pins
# DeepSpeed ships as source whose build imports torch: build its (pure-Python) wheel here, against this
# venv's torch; its CUDA ops are compiled on first use there (the image has nvcc).
ds=$("$venv_python" -c 'import importlib.metadata as md; print(md.version("deepspeed"))' 2>/dev/null || true)
if [ -n "$ds" ]; then
  "$venv_python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$dir" "deepspeed==$ds"
fi
ls "$dir"
du -sh "$dir"
