#!/usr/bin/env bash
# Idempotent Docker setup for `sam local` (make invoke, make test-sam-local, make run LAMBDA=containers).
# Each step says what it does, and does nothing when it is already done:
#   1. the engine: `apt-get install docker.io` when dockerd is missing (root);
#   2. dockerd started when `docker info` does not answer (root; log in /var/log/fibre-cafe-dockerd.log);
#   3. the project's network (NETWORK, SUBNET, GATEWAY below): an --internal bridge, so no route out;
#      moto and the stubs listen on its gateway address, which only this machine and its containers reach;
#   4. a firewall rule: nothing that the engine's bridges send is forwarded anywhere (DOCKER-USER DROP), so a
#      Lambda container reaches this machine (the gateway address) and nothing else, also through docker0,
#      the default bridge that SAM CLI always attaches as well;
#   5. the offline Lambda python3.12 image (build_image.sh), tagged by a hash of this folder's recipe files:
#      built once, and again only when the recipe changes; also tagged <repo>:current for hand-typed commands.
# Prints, as its last line, `IMAGE=<tag> NETWORK=<name> GATEWAY=<address>` for the caller.
# Exit status non-zero, with the reason, when any step fails (an engine that cannot start fails loudly).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
NETWORK="${LAMBDA_NETWORK:-fibre-cafe-lambda}"
SUBNET="${LAMBDA_SUBNET:-10.213.213.0/24}"
GATEWAY="${LAMBDA_GATEWAY:-10.213.213.1}"
BRIDGE="${LAMBDA_BRIDGE:-fclambda0}"
REPO="fibre-cafe/lambda-python3.12"
say() { printf 'docker setup: %s\n' "$*" >&2; }
die() { printf 'docker setup: FAILED: %s\n' "$*" >&2; exit 1; }
as_root() { [ "$(id -u)" = 0 ] || die "$1 needs root (run this as root, or do it by hand: $2)"; }

# Both the repo's Docker CLI and docker.io's may be on PATH; any client works with the engine's API.
if ! command -v dockerd >/dev/null 2>&1; then
    as_root "installing the engine" "apt-get install docker.io"
    say "dockerd missing: apt-get install docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq docker.io >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq docker.io >/dev/null; } \
        || die "apt-get install docker.io failed"
else
    say "engine installed ($(dockerd --version 2>/dev/null | head -n 1))"
fi
command -v docker >/dev/null 2>&1 || die "no docker client on PATH after installing docker.io"

if docker info >/dev/null 2>&1; then
    say "engine running"
else
    as_root "starting the engine" "dockerd &"
    say "engine not running: starting dockerd (--ip-masq=false; log /var/log/fibre-cafe-dockerd.log)"
    setsid nohup dockerd --ip-masq=false >>/var/log/fibre-cafe-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { tail -n 20 /var/log/fibre-cafe-dockerd.log >&2; die "dockerd did not answer within 60 s"; }
    say "engine started"
fi

if docker network inspect "$NETWORK" >/dev/null 2>&1; then
    say "network $NETWORK exists ($(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} gateway {{.Gateway}}{{end}}' "$NETWORK"))"
    actual="$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "$NETWORK")"
    [ "$actual" = "$GATEWAY" ] || die "network $NETWORK has gateway $actual, not $GATEWAY: docker network rm $NETWORK"
else
    say "creating network $NETWORK (--internal bridge $BRIDGE, $SUBNET, gateway $GATEWAY)"
    docker network create --driver bridge --internal --subnet "$SUBNET" --gateway "$GATEWAY" \
        -o com.docker.network.bridge.name="$BRIDGE" -o com.docker.network.bridge.enable_ip_masquerade=false \
        --label fibre-cafe=lambda "$NETWORK" >/dev/null || die "docker network create $NETWORK failed (is $SUBNET in use? set LAMBDA_SUBNET/LAMBDA_GATEWAY)"
fi

if [ "$(id -u)" = 0 ] && command -v iptables >/dev/null 2>&1 && iptables -L DOCKER-USER -n >/dev/null 2>&1; then
    for interface in docker0 "$BRIDGE"; do
        if ! iptables -C DOCKER-USER -i "$interface" -j DROP 2>/dev/null; then
            say "firewall: DOCKER-USER -i $interface -j DROP (containers reach this machine only)"
            iptables -I DOCKER-USER -i "$interface" -j DROP
        fi
    done
    say "firewall: nothing from docker0 or $BRIDGE is forwarded"
else
    say "WARNING: cannot check the DOCKER-USER firewall rule (not root, or no iptables): containers on docker0 may route out"
fi

PYTHON_VERSION="${LAMBDA_PYENV_PYTHON:-3.12.1}"
HASH="$( { cat "$HERE/build_image.sh" "$HERE/bootstrap" "$HERE/requirements.txt"; echo "python $PYTHON_VERSION"; } | sha256sum | cut -c1-16)"
IMAGE="$REPO:$HASH"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "image $IMAGE present (recipe unchanged)"
else
    as_root "building the image" "tools/lambda_runtime/build_image.sh $IMAGE"
    say "image $IMAGE missing: building it (recipe hash $HASH)"
    SECONDS=0
    "$HERE/build_image.sh" "$IMAGE"
    say "image built in ${SECONDS} s"
    for old in $(docker images "$REPO" --format '{{.Tag}}' | grep -vx -e "$HASH" -e current); do
        say "removing the image of an older recipe: $REPO:$old"
        docker rmi "$REPO:$old" >/dev/null 2>&1 || true
    done
fi
# A stable name for the README's sam local invoke lines; the hash tag stays the cache key.
if [ "$(docker image inspect -f '{{.Id}}' "$REPO:current" 2>/dev/null)" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
    say "tagging $IMAGE as $REPO:current"
    docker tag "$IMAGE" "$REPO:current"
fi
echo "IMAGE=$IMAGE NETWORK=$NETWORK GATEWAY=$GATEWAY"
