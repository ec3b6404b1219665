#!/usr/bin/env bash
# Installs every Debian package Earshot needs, and only the missing ones, so
# `make setup` is cheap to run before every `make test` and `make demo`.
set -euo pipefail

packages=(
  # build
  gcc pkg-config
  # speech recognition: library, acoustic model + LM + dictionary, test speech
  libpocketsphinx-dev pocketsphinx-en-us pocketsphinx-testdata pocketsphinx sphinxbase-utils
  # sample calls (regeneration) and reference measurements
  flite sox libsox-fmt-mp3 lame praat
  # a voice other than flite's for the vocabulary test (flite also supplies letter-to-sound)
  espeak-ng
  # capture tests: a real PulseAudio daemon with null sinks
  pulseaudio pulseaudio-utils
  # browser tests
  chromium
  # an external, older NATS for the cluster tests
  nats-server
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
