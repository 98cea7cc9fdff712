#!/usr/bin/env bash
# Build the Linux one-folder bundle dist/EmbryoGrade/ and run its --self-test.
#
#   installers/build_linux.sh [--cuda TAG] [--archive] [--no-self-test]
#                             [--self-test-model CKPT] [--require-model]
#
#   --cuda TAG          CUDA variant: a separate build venv (build/venv-TAG) gets the
#                       torch wheel of requirements.txt from the PyTorch index for TAG
#                       (e.g. cu128; see https://pytorch.org/get-started/locally/ for
#                       the tags of the pinned torch). Default: the CPU build.
#   --archive           also write dist/EmbryoGrade-<version>-linux-<arch>-<variant>.tar.gz
#   --no-self-test      skip the bundle's --self-test (e.g. a CUDA build on a machine
#                       whose driver is too old for it)
#   --self-test-model CKPT
#                       self-test with this checkpoint (bundles built before the default
#                       model exists); sets EMBRYOGRADE_MODEL for the self-test only
#   --require-model     fail if resources/models/default.pt is missing (releases)
#
# Python: $PYTHON, else .venv/bin/python, else python3; it must already hold
# requirements.txt (CPU build). installers/requirements-build.txt is installed
# into it. Exit status: 0 only if the build and the self-test passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CUDA="" ARCHIVE=0 SELF_TEST=1 TEST_MODEL="" REQUIRE_MODEL=0
while [ $# -gt 0 ]; do
    case "$1" in
        --cuda) CUDA="${2:?--cuda needs a tag such as cu128}"; shift 2 ;;
        --cuda=*) CUDA="${1#--cuda=}"; shift ;;
        --archive) ARCHIVE=1; shift ;;
        --no-self-test) SELF_TEST=0; shift ;;
        --self-test-model) TEST_MODEL="$(realpath "${2:?}")"; shift 2 ;;
        --require-model) REQUIRE_MODEL=1; shift ;;
        -h|--help) sed -n '2,24p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3; fi

if [ ! -f resources/models/default.pt ]; then
    if [ "$REQUIRE_MODEL" = 1 ]; then
        echo "resources/models/default.pt is missing; a release bundle must carry the model" >&2
        exit 1
    fi
    echo "WARNING: resources/models/default.pt is missing: the bundle will carry no model" >&2
fi

VARIANT=cpu
if [ -n "$CUDA" ]; then
    # A separate venv: a CUDA torch must not replace the CPU one of the dev venv.
    VARIANT="$CUDA"
    VENV="build/venv-$CUDA"
    TORCH_PIN="$(grep -E '^torch==' requirements.txt)"
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --upgrade pip
    fi
    # no extra index here: a CPU index (as CI sets for the CPU variant) could win
    unset PIP_EXTRA_INDEX_URL
    "$VENV/bin/python" -m pip install "$TORCH_PIN" --index-url "https://download.pytorch.org/whl/$CUDA"
    "$VENV/bin/python" -m pip install -r requirements.txt
    PY="$VENV/bin/python"
fi

"$PY" -m pip install -q -r installers/requirements-build.txt
"$PY" -c "import torch; print('building with torch', torch.__version__, 'CUDA', torch.version.cuda)"

rm -rf dist/EmbryoGrade
START=$(date +%s)
# --clean: a stale analysis cache once mixed a CPU and a CUDA torch in one bundle
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath "build/pyinstaller-$VARIANT" installers/embryograde.spec
BUILD_S=$(( $(date +%s) - START ))
SIZE=$(du -sh dist/EmbryoGrade | cut -f1)
FILES=$(find dist/EmbryoGrade -type f | wc -l)
echo "built dist/EmbryoGrade in ${BUILD_S} s: ${SIZE}, ${FILES} files (variant ${VARIANT})"

if [ "$SELF_TEST" = 1 ]; then
    # A clean environment: nothing from this checkout or venv may leak into the bundle's run.
    # An empty DISPLAY proves the self-test needs no display.
    env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV -u DISPLAY -u WAYLAND_DISPLAY \
        QT_QPA_PLATFORM=offscreen ${TEST_MODEL:+EMBRYOGRADE_MODEL="$TEST_MODEL"} \
        dist/EmbryoGrade/EmbryoGrade --self-test
fi

if [ "$ARCHIVE" = 1 ]; then
    VERSION=$("$PY" -c "from app.version import __version__; print(__version__)")
    NAME="EmbryoGrade-$VERSION-linux-$(uname -m)-$VARIANT.tar.gz"
    # tar keeps the executable bit and the symlinks that a zip upload would lose
    tar -C dist -czf "dist/$NAME" EmbryoGrade
    echo "archive: dist/$NAME ($(du -sh "dist/$NAME" | cut -f1))"
fi
