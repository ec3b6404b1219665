#!/usr/bin/env bash
# Regenerates the MP3 fixtures the audio tests decode (needs sox and lame).
# The tests check tone frequencies and formats, not bytes, so another lame
# version may produce different but equally valid files.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Stereo 44.1 kHz, 1.5 s: 440 Hz on the left (agent), 1 kHz on the right
# (caller), with an ID3v2 tag in front.
sox -n -r 44100 -c 1 "$tmp/l.wav" synth 1.5 sine 440 gain -6
sox -n -r 44100 -c 1 "$tmp/r.wav" synth 1.5 sine 1000 gain -6
sox -M "$tmp/l.wav" "$tmp/r.wav" "$tmp/st.wav"
lame --quiet -b 48 -m s --resample 44.1 --add-id3v2 --tt "earshot test tone" "$tmp/st.wav" tone_stereo_44k.mp3

# Mono 16 kHz (MPEG-2 layer III), 1 s of 300 Hz.
sox -n -r 16000 -c 1 "$tmp/m16.wav" synth 1 sine 300 gain -6
lame --quiet -b 24 -m m "$tmp/m16.wav" tone_mono_16k.mp3

# Mono 8 kHz: MPEG 2.5, which go-mp3 does not decode (an error case).
sox -n -r 8000 -c 1 "$tmp/m8.wav" synth 0.5 sine 300 gain -6
lame --quiet -b 16 -m m "$tmp/m8.wav" tone_mono_8k_mpeg25.mp3
