#!/usr/bin/env bash
# Pictures of the shipped graphs, rendered from `routerctl graph --dot FILE`
# through Graphviz's `dot`, for docs/ (docs/pictures/NAME.dot and NAME.svg).
#
#   bash tools/gen-graph-pictures.sh [BUILD_DIR]           regenerate every picture
#   bash tools/gen-graph-pictures.sh --check [BUILD_DIR]   exit 1 if any picture is stale
#
# Graphs: graphs/*.yaml and graphs/tutorial/*.yaml (NAME: the path below
# graphs/ with '/' as '-'). The check compares the DOT source, which is
# deterministic, not the rendered bytes: each SVG carries the SHA-256 of the
# DOT it was rendered from, and both must match what routerctl prints now.
set -euo pipefail
check=0
if [[ ${1:-} == --check ]]; then check=1; shift; fi
build=${1:-build}
cd "$(dirname "$0")/.."
out=docs/pictures
routerctl="$build/bin/routerctl"
[[ -x $routerctl ]] || { echo "gen-graph-pictures: $routerctl is not built" >&2; exit 2; }
command -v dot >/dev/null || { echo "gen-graph-pictures: Graphviz 'dot' is not installed (apt-get install graphviz)" >&2; exit 2; }
mkdir -p "$out"
stale=0
expected=()
for g in graphs/*.yaml graphs/tutorial/*.yaml; do
  name=${g#graphs/}
  name=${name%.yaml}
  name=${name//\//-}
  expected+=("$name")
  # WEFT_SOCKET points nowhere: the file's graph, never a running router's.
  dotsrc=$(WEFT_SOCKET=/nonexistent "$routerctl" graph --dot "$g")
  sum=$(printf '%s\n' "$dotsrc" | sha256sum | cut -d' ' -f1)
  if ((check)); then
    if ! printf '%s\n' "$dotsrc" | cmp -s - "$out/$name.dot"; then
      echo "stale: $out/$name.dot (from $g)"; stale=1
    fi
    if ! grep -q "weft-dot-sha256: $sum" "$out/$name.svg" 2>/dev/null; then
      echo "stale: $out/$name.svg (not rendered from the current $g)"; stale=1
    fi
  else
    printf '%s\n' "$dotsrc" >"$out/$name.dot"
    { printf '%s\n' "$dotsrc" | dot -Tsvg; echo "<!-- weft-dot-sha256: $sum -->"; } >"$out/$name.svg"
    echo "$out/$name.svg"
  fi
done
# Pictures of graphs that no longer exist are stale too.
for f in "$out"/*.dot; do
  [[ -e $f ]] || continue
  n=$(basename "$f" .dot)
  if [[ ! " ${expected[*]} " == *" $n "* ]]; then
    if ((check)); then echo "stale: $f (no graph file makes it)"; stale=1; else rm -f "$f" "$out/$n.svg"; fi
  fi
done
if ((check)); then
  if ((stale)); then echo "run: bash tools/gen-graph-pictures.sh $build"; exit 1; fi
  echo "docs/pictures are up to date (${#expected[@]} graphs)"
fi
