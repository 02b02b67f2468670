#!/usr/bin/env bash
# Two throwaway venvs with the independent readers used by tests/interop/test_independent_readers.py.
# They cannot share the project's venv: datumaro pins opencv-python-headless<5 and pillow~=12, labelme pulls
# PyQt5 and onnxruntime, ultralytics pulls opencv-python and torch. Measured here (2026-12-04, loaded machine):
# readers venv about 2.5 min (datumaro) + 2 min (labelme), 1.2 GB; ultralytics venv about 4.5 min, 1.6 GB.
# Usage: bash scripts/make_interop_venvs.sh [DIR]   (default /tmp/symnet-interop), then export the two
# variables it prints and run: python -m pytest -q tests/interop
set -euo pipefail
dir="${1:-/tmp/symnet-interop}"
here="$(cd "$(dirname "$0")/.." && pwd)"
python3 -m venv "$dir/readers"
"$dir/readers/bin/pip" install -q "datumaro==1.13.12" "labelme==6.3.1"
python3 -m venv "$dir/ultralytics"
"$dir/ultralytics/bin/pip" install -q -c "$here/constraints.txt" "ultralytics==8.4.190"
echo "export SYMNET_INTEROP_PYTHON=$dir/readers/bin/python"
echo "export SYMNET_ULTRALYTICS_PYTHON=$dir/ultralytics/bin/python"
