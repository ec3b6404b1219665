#!/usr/bin/env bash
# Builds Earshot's contact-center language model (run by `make lm`):
# regenerates the template half of the corpus (deterministic), then
# estimates the domain trigram model, interpolates it with Debian's generic
# en-us model and writes lm/build/earshot.lm.bin and lm/build/earshot.dict.
# Takes about a minute on two cores; needs pocketsphinx-en-us and
# sphinxbase-utils (sphinx_lm_convert).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
$GO run ./lm/corpusgen -scale 2 > lm/corpus/generated.txt.tmp
mv lm/corpus/generated.txt.tmp lm/corpus/generated.txt
$GO run ./lm/lmbuild -out lm/build "$@"
