#!/usr/bin/env bash
# A Python virtualenv managed by vrift (.venv is projected), used inside `vrift run`,
# Solid and Phantom, compared with the same commands on a plain copy: run an installed
# console script, pip list, pip uninstall and install a wheel, then remove the whole
# virtualenv and make it again (python -m venv, pip's own bootstrap, thousands of files
# removed and written in one command). Each step must print what it prints on the plain
# copy; at the end every file is recorded, none is left behind on disk in Phantom, the
# doctor finds nothing and every entry reads its recorded bytes.
source "$(dirname "$0")/lib/common.bash"
need python3 b3sum
cd "$SCRATCH"
python3 -c 'import venv, ensurepip' 2>/dev/null || { echo "SKIP: python3 has no venv/ensurepip (python3-venv)"; exit 125; }
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INDEX=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=

# A pure-Python wheel with a console script, built here (no index, no build backend).
WHEEL="$SCRATCH/vriftdemo-1.0-py3-none-any.whl"
python3 - "$WHEEL" <<'PY'
import base64, hashlib, sys, zipfile
files = {
    "vriftdemo/__init__.py": "from .core import answer\ndef main():\n    print('answer', answer())\n",
    "vriftdemo/core.py": "def answer():\n    return 42\n",
    "vriftdemo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: vriftdemo\nVersion: 1.0\n",
    "vriftdemo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    "vriftdemo-1.0.dist-info/entry_points.txt": "[console_scripts]\nvriftdemo = vriftdemo:main\n",
}
record = []
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text)}")
    record.append("vriftdemo-1.0.dist-info/RECORD,,")
    z.writestr("vriftdemo-1.0.dist-info/RECORD", "\n".join(record) + "\n")
PY

STEPS=(
  '.venv/bin/vriftdemo && .venv/bin/python -c "import os, vriftdemo; print(os.path.relpath(vriftdemo.__file__))"'
  '.venv/bin/pip list --format=freeze | grep -v "^setuptools=="'
  '.venv/bin/pip uninstall -q -y vriftdemo && .venv/bin/pip list --format=freeze | grep -c vriftdemo; test ! -e .venv/bin/vriftdemo && echo script gone'
  ".venv/bin/pip install -q $WHEEL && .venv/bin/vriftdemo"
  "rm -rf .venv && python3 -m venv .venv && .venv/bin/pip install -q $WHEEL && .venv/bin/vriftdemo"
  '.venv/bin/python -c "import pip, vriftdemo.core as c; print(c.answer())" && find .venv -name "*.pyc" | wc -l | sed "s/[1-9][0-9]*/some/"'
)

for mode in solid phantom; do
  rm -rf plain project
  # Each its own: a virtualenv names its own path in its scripts (no copies).
  for d in plain project; do
    mkdir $d
    (cd $d && python3 -m venv .venv && .venv/bin/pip install -q "$WHEEL") || fail "cannot make the virtualenv"
  done
  (cd project && "$VRIFT" init -q && grep -q '^projected = \[".venv"\]' .vrift/config.toml && "$VRIFT" ingest -q --$mode) ||
    fail "$mode: init and ingest of .venv"
  compare_steps $mode "${STEPS[@]}"
  cd project
  "$VRIFT" ls > "$SCRATCH/ls"
  for f in '\.venv/pyvenv\.cfg' '\.venv/bin/vriftdemo' '\.venv/lib/python3[^/]*/site-packages/vriftdemo/core\.py'; do
    grep -q " $f\$" "$SCRATCH/ls" || fail "$mode: $f is not recorded"
  done
  if [ $mode = phantom ]; then
    left=$(find .venv -type f -perm -o=r | head -3)
    [ -z "$left" ] || fail "phantom: files left on disk: $left"
  fi
  cd ..
  pass "$mode: console script, pip list/uninstall/install, virtualenv removed and made again: as on a plain copy"
done
