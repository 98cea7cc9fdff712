#!/usr/bin/env bash
# Build the macOS app bundle dist/EmbryoGrade.app and run its --self-test.
#
#   installers/build_macos.sh [--archive] [--no-self-test] [--self-test-model CKPT]
#                             [--require-model]
#
# Same options as build_linux.sh, without --cuda: the standard macOS torch
# wheel already uses the Apple GPU (MPS) on Apple silicon. The bundle is built
# for the machine's architecture (arm64 on Apple silicon runners).
# Signing: PyInstaller signs ad hoc (enough to run on the build machine; a
# downloaded copy meets Gatekeeper, see docs/installing.md). For a real
# identity set EMBRYOGRADE_CODESIGN_IDENTITY="Developer ID Application: ..."
# before building, then notarise the archive with `xcrun notarytool`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ARCHIVE=0 SELF_TEST=1 TEST_MODEL="" REQUIRE_MODEL=0
while [ $# -gt 0 ]; do
    case "$1" in
        --archive) ARCHIVE=1; shift ;;
        --no-self-test) SELF_TEST=0; shift ;;
        --self-test-model) TEST_MODEL="$(cd "$(dirname "${2:?}")" && pwd)/$(basename "$2")"; shift 2 ;;
        --require-model) REQUIRE_MODEL=1; shift ;;
        -h|--help) sed -n '2,14p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
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

"$PY" -m pip install -q -r installers/requirements-build.txt
rm -rf dist/EmbryoGrade dist/EmbryoGrade.app
START=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller-macos installers/embryograde.spec
BUILD_S=$(( $(date +%s) - START ))
echo "built dist/EmbryoGrade.app in ${BUILD_S} s: $(du -sh dist/EmbryoGrade.app | cut -f1)"

if [ "$SELF_TEST" = 1 ]; then
    env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV QT_QPA_PLATFORM=offscreen \
        ${TEST_MODEL:+EMBRYOGRADE_MODEL="$TEST_MODEL"} \
        dist/EmbryoGrade.app/Contents/MacOS/EmbryoGrade --self-test
fi

if [ "$ARCHIVE" = 1 ]; then
    VERSION=$("$PY" -c "from app.version import __version__; print(__version__)")
    NAME="EmbryoGrade-$VERSION-macos-$(uname -m).zip"
    # ditto keeps the bundle's symlinks, permissions and signatures
    ditto -c -k --sequesterRsrc --keepParent dist/EmbryoGrade.app "dist/$NAME"
    echo "archive: dist/$NAME ($(du -sh "dist/$NAME" | cut -f1))"
fi
