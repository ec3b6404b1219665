#!/usr/bin/env bash
# generate.sh rebuilds every sample call from samples/scripts/*.txt:
#   calls/NAME.mp3   stereo 16 kHz MP3, left = agent, right = caller
#   calls/NAME.json  ground truth, computed from where each line was placed
#   calls/manifest.tsv  one reference transcript per channel, for STT evaluation
#
# It is deterministic: flite is deterministic, every sox call runs with -R
# (fixed seeds for noise and dither), lame has no random state and is told not
# to write a tag. Running it twice gives byte-identical files. The script
# format and the timing conventions are described in samples/README.md.
#
# Needs the Debian packages flite, sox and lame (installed by `make setup`).
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

readonly rate=16000
# lame's encoder delay (576 samples) plus the MPEG layer III decoder delay
# (529 samples). Without a LAME/Xing tag no decoder can remove them, so every
# decoder (go-mp3, sox/libmad) outputs the audio 1105 samples late. The mixed
# call is shifted 1105 samples earlier before encoding, so that decoded audio
# lines up sample-exactly with the times in the ground truth. Measured with a
# tone burst through lame 3.100 and both decoders; the Go test checks it.
readonly mp3_delay=1105
readonly bitrate=40        # kbps for the stereo pair; ~5 kB/s, keeps all calls < 3 MB
readonly lead_max=1.0      # leading/trailing silence must stay below this (s)
readonly tail=0.6          # silence after the last line (s)
readonly dead_air_min=5.0  # both silent at least this long = dead air (s)
readonly normal_peak=-6    # peak level of an ordinary line (dBFS)
readonly raised_peak=-2    # peak level of a raised ("!") line (dBFS)
readonly raised_pitch=250  # cents a raised line is shifted up
readonly raised_stretch=0.9 # flite duration_stretch of a raised line (faster)
readonly room_noise=-66    # RMS of the headset noise floor on wideband channels (dBFS)
readonly line_noise=-50    # RMS of the line noise on a phone-band channel (dBFS)

die() { echo "generate.sh: $*" >&2; exit 1; }

for tool in flite sox soxi lame; do
  command -v "$tool" >/dev/null || die "$tool not found; run 'make setup'"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# secs_to_samples prints round(s * rate), keeping the sign.
secs_to_samples() {
  awk -v s="$1" -v r="$rate" 'BEGIN { if (s < 0) printf "%d", -int(-s * r + 0.5); else printf "%d", int(s * r + 0.5) }'
}

# reference prints the words of a line as a WER reference: lower case, no
# punctuation, apostrophes kept only inside words.
reference() {
  tr 'A-Z' 'a-z' <<<"$1" | sed -e "s/[^a-z']/ /g" -e "s/\([^a-z]\)'/\1 /g" -e "s/^'/ /" -e "s/'\([^a-z]\)/ \1/g" -e "s/'$/ /" |
    tr -s ' ' | sed -e 's/^ //' -e 's/ $//'
}

# rms_db prints the RMS level of a mono file in dBFS.
rms_db() {
  sox "$1" -n stats 2>&1 | awk '/^RMS lev dB/ { print $4 }'
}

# noise_track writes a noise floor of exactly n samples at rate r with the
# given RMS level. kind is pinknoise (headset) or whitenoise (line noise,
# band-limited to the telephone band). skip selects where in the fixed noise
# sequence to start, so the two channels of a call are not identical.
noise_track() {
  local out=$1 n=$2 r=$3 kind=$4 level=$5 skip=$6 long=$work/noise_long.wav raw=$work/noise_raw.wav
  local filter=()
  [ "$kind" = whitenoise ] && filter=(sinc 300-3400)
  # Two steps: sox 14.4.2 counts "s" trim positions at 48 kHz when the input
  # is the null file, whatever -r says.
  sox -R -n -r "$r" -c 1 -b 16 "$long" synth "$(((n + skip) / r + 2))" "$kind" "${filter[@]}"
  sox -R "$long" "$raw" trim "${skip}s" "${n}s"
  local have gain
  have=$(rms_db "$raw")
  gain=$(awk -v t="$level" -v h="$have" 'BEGIN { printf "%.2f", t - h }')
  sox -R "$raw" "$out" gain "$gain"
}

# render_line speaks one line with flite, trims the silence flite puts around
# it and sets its level, so the file starts and ends where speech does.
render_line() {
  local out=$1 voice=$2 raised=$3 phone=$4 textfile=$5 raw=$work/flite.wav
  local stretch=() shape=() band=() peak=$normal_peak
  if [ "$raised" = 1 ]; then
    stretch=(--setf "duration_stretch=$raised_stretch")
    shape=(pitch "$raised_pitch")
    peak=$raised_peak
  fi
  # A phone-band line is band-limited before trimming, so its segment ends
  # where speech is still audible on the line (a final "s" above 3.4 kHz is
  # not); the channel is band-limited again later, which changes nothing.
  [ "$phone" = 1 ] && band=(rate 8000 sinc 300-3400 rate "$rate")
  flite -voice "$voice" "${stretch[@]}" -f "$textfile" -o "$raw"
  sox -R "$raw" -b 16 -c 1 "$out" rate "$rate" "${shape[@]}" "${band[@]}" gain -n \
    silence 1 0.01 -45d reverse silence 1 0.01 -45d reverse gain -n "$peak"
}

# write_truth turns the placed lines (TSV: speaker start_sample end_sample
# hints text) into the ground-truth JSON. Everything in "expected" except the
# hints named in the script is derived from the placed segments here, and the
# Go test in this package derives it again independently.
write_truth() {
  local name=$1 segs=$2 desc=$3 agent=$4 caller=$5 phone=$6 cats=$7 timed=$8 dur=$9
  awk -F'\t' -v name="$name" -v desc="$desc" -v agent="$agent" -v caller="$caller" \
    -v phone="$phone" -v cats="$cats" -v timed="$timed" -v dur="$dur" -v r="$rate" \
    -v deadmin="$dead_air_min" -v anoise="$room_noise" '
    function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    function t(x) { return sprintf("%.3f", x) }
    { spk[NR-1] = $1; st[NR-1] = $2 / r; en[NR-1] = $3 / r; tags[NR-1] = $4; txt[NR-1] = $5; n = NR }
    END {
      printf "{\n  \"name\": %s,\n  \"audio\": %s,\n  \"description\": %s,\n", q(name), q(name ".mp3"), q(desc)
      printf "  \"duration_s\": %s,\n", t(dur)
      printf "  \"voices\": {\"agent\": %s, \"caller\": %s},\n", q(agent), q(caller)
      printf "  \"caller_phone_band\": %s,\n", (phone == "caller" ? "true" : "false")
      printf "  \"noise_dbfs\": {\"agent\": %d, \"caller\": %d},\n", anoise, (phone == "caller" ? lnoise : anoise)
      printf "  \"segments\": [\n"
      for (i = 0; i < n; i++)
        printf "    {\"speaker\": %s, \"start\": %s, \"end\": %s, \"text\": %s}%s\n", q(spk[i]), t(st[i]), t(en[i]), q(txt[i]), (i < n - 1 ? "," : "")
      printf "  ],\n  \"expected\": {\n"

      # Dead air: gaps in the union of all segments, including the call edges.
      nd = 0; cur = 0
      for (i = 0; i < n; i++) {
        if (st[i] - cur >= deadmin) { ds[nd] = cur; de[nd] = st[i]; nd++ }
        if (en[i] > cur) cur = en[i]
      }
      if (dur - cur >= deadmin) { ds[nd] = cur; de[nd] = dur; nd++ }
      printf "    \"dead_air\": ["
      for (i = 0; i < nd; i++) printf "%s{\"start\": %s, \"end\": %s}", (i ? ", " : ""), t(ds[i]), t(de[i])
      printf "],\n"

      # Overtalk: every overlap of an agent and a caller segment; "by" is
      # whoever started while the other was already talking.
      no = 0; ia = 0; ic = 0
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) {
        if (spk[i] == spk[j]) continue
        s = (st[i] > st[j] ? st[i] : st[j]); e = (en[i] < en[j] ? en[i] : en[j])
        if (e <= s) continue
        by = (st[j] >= st[i] ? spk[j] : spk[i])
        os[no] = s; oe[no] = e; ob[no] = by; no++
        if (by == "agent") ia++; else ic++
      }
      printf "    \"overtalk\": ["
      for (i = 0; i < no; i++) printf "%s{\"start\": %s, \"end\": %s, \"by\": %s}", (i ? ", " : ""), t(os[i]), t(oe[i]), q(ob[i])
      printf "],\n"
      printf "    \"interruptions\": {\"agent\": %d, \"caller\": %d},\n", ia, ic

      # Hints: tagged lines, hints due at a fixed time (segment -1), and one
      # dead_air hint due when each dead-air stretch reaches the threshold.
      nh = 0
      for (i = 0; i < n; i++) {
        k = split(tags[i], tg, ",")
        for (j = 1; j <= k; j++) if (tg[j] != "" && tg[j] != "-") { hid[nh] = tg[j]; hseg[nh] = i; hdue[nh] = en[i]; nh++ }
      }
      k = split(timed, tm, " ")
      for (j = 1; j + 1 <= k; j += 2) { hid[nh] = tm[j]; hseg[nh] = -1; hdue[nh] = tm[j + 1] + 0; nh++ }
      for (i = 0; i < nd; i++) { hid[nh] = "dead_air"; hseg[nh] = -1; hdue[nh] = ds[i] + deadmin; nh++ }
      # Sort by due time (insertion sort, a handful of entries).
      for (i = 1; i < nh; i++) for (j = i; j > 0 && hdue[j] < hdue[j - 1]; j--) {
        x = hid[j]; hid[j] = hid[j - 1]; hid[j - 1] = x
        x = hseg[j]; hseg[j] = hseg[j - 1]; hseg[j - 1] = x
        x = hdue[j]; hdue[j] = hdue[j - 1]; hdue[j - 1] = x
      }
      printf "    \"hints\": ["
      for (i = 0; i < nh; i++) {
        printf "%s{\"id\": %s, \"segment\": %d", (i ? ", " : ""), q(hid[i]), hseg[i]
        if (hseg[i] < 0) printf ", \"t\": %s", t(hdue[i])
        printf "}"
      }
      printf "],\n"
      k = split(cats, cs, " ")
      printf "    \"categories\": ["
      for (j = 1; j <= k; j++) printf "%s%s", (j > 1 ? ", " : ""), q(cs[j])
      printf "]\n  }\n}\n"
    }' lnoise="$line_noise" "$segs"
}

# generate_call builds one call from its script.
generate_call() {
  local script=$1 name
  name=$(basename "$script" .txt)
  local desc="" agent="" caller="" phone=none cats="" timed=""
  local in_body=0 lineno=0 idx=0
  local segs=$work/$name.segs
  : >"$segs"
  local cursor=0 prev_start=-1 prev_end=0 last_a=0 last_c=0

  while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    [[ -z "${line// /}" || "$line" == \#* ]] && continue
    if [ "$in_body" = 0 ]; then
      if [ "$line" = "---" ]; then in_body=1; continue; fi
      local key=${line%%:*} value=${line#*:}
      value=${value# }
      case "$key" in
        description) desc=$value ;;
        agent) agent=$value ;;
        caller) caller=$value ;;
        phone_band) phone=$value ;;
        categories) cats=$value ;;
        hint) timed="$timed $value" ;;
        *) die "$script:$lineno: unknown header key '$key'" ;;
      esac
      continue
    fi

    [[ "$line" =~ ^([AC])[[:space:]]+(-?[0-9]+(\.[0-9]+)?)[[:space:]]+(.*)$ ]] ||
      die "$script:$lineno: want 'A|C GAP TEXT', got: $line"
    local who=${BASH_REMATCH[1]} gap=${BASH_REMATCH[2]} rest=${BASH_REMATCH[4]}
    local raised=0 tags=""
    while :; do
      if [[ "$rest" =~ ^!\ +(.*)$ ]]; then raised=1; rest=${BASH_REMATCH[1]}
      elif [[ "$rest" =~ ^\[([a-z_]+)\]\ +(.*)$ ]]; then tags="$tags${tags:+,}${BASH_REMATCH[1]}"; rest=${BASH_REMATCH[2]}
      else break; fi
    done
    local speaker voice
    if [ "$who" = A ]; then speaker=agent voice=$agent; else speaker=caller voice=$caller; fi
    [ -n "$voice" ] || die "$script: header must name the agent and caller voices"

    printf '%s\n' "$rest" >"$work/text.txt"
    local on_phone=0
    [ "$phone" = "$speaker" ] && on_phone=1
    render_line "$work/$name.$idx.wav" "$voice" "$raised" "$on_phone" "$work/text.txt"
    local n start gs
    n=$(soxi -s "$work/$name.$idx.wav")
    gs=$(secs_to_samples "$gap")
    # A gap counts from the end of everything said so far; a negative gap
    # starts the line that long before the previous line ends (talk-over).
    if [ "$gs" -ge 0 ]; then start=$((cursor + gs)); else start=$((prev_end + gs)); fi
    [ "$start" -gt "$prev_start" ] || die "$script:$lineno: line would start before the previous one"
    local own_end=$last_a
    [ "$speaker" = caller ] && own_end=$last_c
    [ "$start" -ge "$own_end" ] || die "$script:$lineno: $speaker would overlap their own previous line"
    local end=$((start + n))
    if [ "$speaker" = agent ]; then last_a=$end; else last_c=$end; fi
    [ "$end" -gt "$cursor" ] && cursor=$end
    prev_start=$start prev_end=$end
    printf '%s\t%d\t%d\t%s\t%s\t%s\n' "$speaker" "$start" "$end" "${tags:--}" "$(reference "$rest")" "$idx" >>"$segs"
    idx=$((idx + 1))
  done <"$script"
  [ "$idx" -gt 0 ] || die "$script: no lines"

  # lame drops the last partial frame, so the mix runs four MPEG-2 frames
  # (2304 samples) past what must survive; the truth's duration is whatever
  # the decoder then delivers.
  local need=$((cursor + $(secs_to_samples "$tail")))
  local total=$(((need + 2304 + 1) / 2 * 2)) # even, so the 8 kHz round trip is exact

  # Each channel: its lines in order, each padded with the silence before it.
  local ch
  for ch in agent caller; do
    local parts=() pos=0
    while IFS=$'\t' read -r spk st en _ _ i; do
      [ "$spk" = "$ch" ] || continue
      sox -R "$work/$name.$i.wav" "$work/$name.$i.pad.wav" pad "$((st - pos))s"
      parts+=("$work/$name.$i.pad.wav")
      pos=$en
    done <"$segs"
    local speech=$work/$name.$ch.speech.wav
    if [ ${#parts[@]} -eq 0 ]; then
      sox -R -n -r "$rate" -c 1 -b 16 "$speech" synth "$((total / rate + 1))" sine 0 vol 0
      sox -R "$speech" "$speech.tmp.wav" trim 0 "${total}s"
      mv "$speech.tmp.wav" "$speech"
    else
      sox -R "${parts[@]}" "$speech" pad 0 "$((total - pos))s"
    fi
    local skip=0
    [ "$ch" = caller ] && skip=$rate
    if [ "$phone" = "$ch" ]; then
      # Telephone line: 8 kHz, 300-3400 Hz, line noise, G.711 mu-law, then
      # back to the pipeline rate for mixing.
      local half=$((total / 2))
      noise_track "$work/$name.$ch.noise8.wav" "$half" 8000 whitenoise "$line_noise" "$skip"
      sox -R "$speech" "$work/$name.$ch.sp8.wav" rate 8000 sinc 300-3400
      sox -R -m -v 1 "$work/$name.$ch.sp8.wav" -v 1 "$work/$name.$ch.noise8.wav" -e u-law -b 8 "$work/$name.$ch.ulaw.wav"
      sox -R "$work/$name.$ch.ulaw.wav" -e signed -b 16 "$work/$name.$ch.wav" rate "$rate" trim 0 "${total}s"
    else
      noise_track "$work/$name.$ch.noise.wav" "$total" "$rate" pinknoise "$room_noise" "$skip"
      sox -R -m -v 1 "$speech" -v 1 "$work/$name.$ch.noise.wav" "$work/$name.$ch.wav"
    fi
    [ "$(soxi -s "$work/$name.$ch.wav")" = "$total" ] || die "$name: $ch channel has the wrong length"
  done

  sox -R -M "$work/$name.agent.wav" "$work/$name.caller.wav" "$work/$name.stereo.wav" trim "${mp3_delay}s"
  lame --quiet -t -m s -b "$bitrate" --resample 16 -q 2 --noreplaygain \
    "$work/$name.stereo.wav" "calls/$name.mp3"

  # Decode it again: the duration in the truth is what a decoder delivers,
  # and the levels are checked on the decoded audio.
  sox "calls/$name.mp3" "$work/$name.decoded.wav" 2>"$work/decode.err" ||
    die "$name: the MP3 does not decode: $(cat "$work/decode.err")"
  if grep -qi clip "$work/decode.err"; then die "$name: decoding clipped: $(cat "$work/decode.err")"; fi
  local decoded dur
  decoded=$(soxi -s "$work/$name.decoded.wav")
  [ "$decoded" -ge "$need" ] || die "$name: decoded $decoded samples, need $need"
  dur=$(awk -v n="$decoded" -v r="$rate" 'BEGIN { printf "%.4f", n / r }')

  local first last
  first=$(head -n1 "$segs" | cut -f2)
  last=$(cut -f3 "$segs" | sort -n | tail -n1)
  awk -v a="$first" -v b="$last" -v d="$dur" -v r="$rate" -v m="$lead_max" \
    'BEGIN { exit !(a / r < m && d - b / r < m) }' || die "$name: leading or trailing silence is not below ${lead_max}s"

  local report=""
  for ch in 1 2; do
    local stats pk rms
    stats=$(sox "$work/$name.decoded.wav" -n remix "$ch" stats 2>&1)
    pk=$(awk '/^Pk lev dB/ { print $4 }' <<<"$stats")
    rms=$(awk '/^RMS lev dB/ { print $4 }' <<<"$stats")
    awk -v p="$pk" 'BEGIN { exit !(p < -0.5) }' || die "$name: channel $ch peaks at $pk dBFS"
    report="$report ch$ch pk=${pk}dB rms=${rms}dB"
  done

  write_truth "$name" "$segs" "$desc" "$agent" "$caller" "$phone" "$cats" "$timed" "$dur" >"calls/$name.json"
  local a_text c_text
  a_text=$(awk -F'\t' '$1 == "agent" { printf "%s%s", (n++ ? " " : ""), $5 }' "$segs")
  c_text=$(awk -F'\t' '$1 == "caller" { printf "%s%s", (n++ ? " " : ""), $5 }' "$segs")
  printf 'calls/%s.mp3\tagent\t%s\ncalls/%s.mp3\tcaller\t%s\n' "$name" "$a_text" "$name" "$c_text" >>"$work/manifest.tsv"
  echo "$name: ${dur}s, $idx lines, agent=$agent caller=$caller phone_band=$phone,$report"
}

mkdir -p calls
rm -f calls/*.mp3 calls/*.json calls/manifest.tsv
: >"$work/manifest.tsv"
shopt -s nullglob
scripts=(scripts/*.txt)
[ ${#scripts[@]} -gt 0 ] || die "no scripts in samples/scripts"
for s in "${scripts[@]}"; do
  generate_call "$s"
done
cp "$work/manifest.tsv" calls/manifest.tsv
echo "total: $(du -cb calls/*.mp3 | awk 'END { printf "%.2f MB", $1 / 1e6 }') of MP3 in ${#scripts[@]} calls"
