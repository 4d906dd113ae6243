#!/usr/bin/env bash
# Starts eyeball in a private Xvfb display and saves a PNG of its window.
#   scripts/screenshot.sh BIN OUT.png [ARGS...]
# BIN: the eyeball binary; ARGS go to it. SCREENSHOT_DELAY_S (default 5) is the wait after
# the window appears, so thumbnails and checkpoints have loaded. SCREENSHOT_KEYS (e.g.
# "Right Return") are typed into the window before the capture, and SCREENSHOT_CLICKS (e.g.
# "453,43") are clicked at window coordinates, to show another view.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BIN OUT.png [ARGS...]" >&2; exit 2; }
bin="$1"; out="$2"; shift 2
delay="${SCREENSHOT_DELAY_S:-5}"
for tool in Xvfb xdotool xwd; do
  command -v "$tool" >/dev/null || { echo "screenshot: $tool not found; ./dev setup installs it" >&2; exit 3; }
done
[ -x /usr/bin/convert ] || { echo "screenshot: /usr/bin/convert (imagemagick) not found; ./dev setup installs it" >&2; exit 3; }

work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/display" ] && break; sleep 0.1; done
[ -s "$work/display" ] || { echo "screenshot: Xvfb did not start: $(cat "$work/xvfb.log")" >&2; exit 4; }
export DISPLAY=":$(head -n1 "$work/display")"
unset WAYLAND_DISPLAY

"$bin" "$@" >"$work/app.log" 2>&1 &
app=$!
pids=("$app" "${pids[@]}")
wid="$(timeout 60 xdotool search --sync --onlyvisible --name '^eyeball' | head -n1)" \
  || { echo "screenshot: no eyeball window appeared; app log:" >&2; cat "$work/app.log" >&2; exit 5; }
sleep "$delay"
kill -0 "$app" 2>/dev/null || { echo "screenshot: eyeball exited; app log:" >&2; cat "$work/app.log" >&2; exit 6; }
if [ -n "${SCREENSHOT_KEYS:-}" ]; then
  xdotool mousemove --window "$wid" 5 5 windowfocus --sync "$wid" 2>/dev/null || true
  for key in $SCREENSHOT_KEYS; do xdotool key "$key" 2>/dev/null; sleep 0.3; done
  sleep 2
fi
for point in ${SCREENSHOT_CLICKS:-}; do
  xdotool mousemove --window "$wid" "${point%,*}" "${point#*,}" click 1 2>/dev/null
  sleep 1
done
[ -n "${SCREENSHOT_CLICKS:-}" ] && xdotool mousemove --window "$wid" 5 5 2>/dev/null && sleep 1
xwd -silent -id "$wid" | /usr/bin/convert xwd:- "png:$out"
echo "screenshot: saved $out (window $wid on $DISPLAY)" >&2
