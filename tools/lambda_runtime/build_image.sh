#!/usr/bin/env bash
# Build the offline Lambda-compatible python3.12 image: build_image.sh <tag>. Run as root (debootstrap).
#
# The AWS Lambda base images cannot be pulled here (no registry but the package ones is reachable), so the
# image is made from what is: a Debian bookworm root filesystem (debootstrap --variant=minbase, from the
# Debian mirror apt already uses: read from apt's sources at run time), pyenv's Python 3.12 copied to
# /var/lang, awslambdaric + boto3 (requirements.txt, cp312 manylinux wheels) in /var/runtime, the bootstrap
# beside it, and Lambda's environment variables. SAM CLI adds its runtime interface emulator at invoke time.
# The caller (docker_setup.sh) names the image by a hash of this folder, so it is rebuilt only when the
# recipe changes.
set -euo pipefail
TAG="${1:?usage: build_image.sh <image tag>}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PYENV_PY="${LAMBDA_PYENV_PYTHON:-3.12.1}"
say() { printf 'lambda image: %s\n' "$*" >&2; }

# --- the Debian mirror apt uses (deb822 .sources first, then one-line sources.list); never written down
mirror() {
    local uri
    uri="$(awk '/^URIs:/{u=$2} /^Suites:/{ for (i=2;i<=NF;i++) if ($i=="bookworm") { print u; exit } }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)"
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(awk '$1=="deb" && $0 ~ / bookworm / { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)"
    fi
    [ -n "$uri" ] || { say "no bookworm mirror in apt's sources (/etc/apt/sources.list[.d])"; exit 1; }
    printf '%s\n' "$uri"
}

if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
fi
PREFIX="$(PYENV_VERSION="${PYENV_VERSION:-3.11.7:$PYENV_PY}" pyenv prefix "$PYENV_PY")"
PY="$PREFIX/bin/python3.12"
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 12), sys.version'

WORK="$(mktemp -d /tmp/lambda-image.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"

# The shared libraries pyenv's CPython links against (ssl, ffi, sqlite, bz2, lzma, zlib, readline, uuid, expat).
LIBS=libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libncursesw6,libtinfo6,libuuid1,libexpat1,libnsl2,libtirpc3,libcrypt1
say "debootstrap --variant=minbase bookworm (apt's mirror)"
SECONDS=0
debootstrap --variant=minbase --include="$LIBS" bookworm "$ROOT" "$(mirror)" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
say "  root filesystem in ${SECONDS} s"

say "Python $("$PY" -c 'import platform; print(platform.python_version())') from $PREFIX -> /var/lang"
mkdir -p "$ROOT/var/lang" "$ROOT/var/runtime" "$ROOT/var/task" "$ROOT/opt"
tar -C "$PREFIX" -c \
    --exclude='./lib/python3.12/test' --exclude='./lib/python3.12/idlelib' --exclude='./lib/python3.12/tkinter' \
    --exclude='./lib/python3.12/turtledemo' --exclude='./lib/python3.12/ensurepip' --exclude='./lib/python3.12/lib2to3' \
    --exclude='./lib/python3.12/config-3.12-x86_64-linux-gnu' --exclude='./lib/python3.12/site-packages/*' \
    --exclude='*/_tkinter*.so' --exclude='./include' --exclude='./share' \
    ./bin ./lib | tar -C "$ROOT/var/lang" -x
mkdir -p "$ROOT/var/lang/lib/python3.12/site-packages"

say "pip install --target /var/runtime (requirements.txt: awslambdaric, boto3; cp312 manylinux wheels)"
PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: --no-compile \
    --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 \
    --target "$ROOT/var/runtime" -r "$HERE/requirements.txt" 2>&1 | { grep -v "^WARNING: Location 'file:" >&2 || true; }
install -m 0755 "$HERE/bootstrap" "$ROOT/var/runtime/bootstrap"

say "trimming (docs, man pages, locales, apt lists)"
rm -rf "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/locale/* \
    "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/*
say "checking the runtime imports in the new root (chroot)"
env -i LD_LIBRARY_PATH=/var/lang/lib PYTHONPATH=/var/runtime "$(command -v chroot)" "$ROOT" /var/lang/bin/python3.12 -c \
    'import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, decimal, awslambdaric, boto3'

say "docker import as $TAG"
tar -C "$ROOT" -c . | docker import \
    --change 'ENV LANG=en_US.UTF-8' \
    --change 'ENV TZ=:/etc/localtime' \
    --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
    --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' \
    --change 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
    --message "fibre-cafe offline Lambda python3.12 runtime" - "$TAG" >/dev/null
docker image inspect --format 'lambda image: {{.Id}} {{.Size}} bytes' "$TAG" >&2
