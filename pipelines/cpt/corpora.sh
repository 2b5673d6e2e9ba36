#!/bin/sh
# The corpora of pipelines/smollm2-cpt.yaml, from files Debian ships: Vim's user manual as the
# domain (three chapters to train on, a fourth held out) and the licenses in
# /usr/share/common-licenses as the general corpus (GPL-3 to replay, Apache-2.0 held out).
# Blank lines are dropped: each remaining line is one record of plain text.
set -eu
doc=/usr/share/vim/vim90/doc
licenses=/usr/share/common-licenses
if [ ! -f "$doc/usr_02.txt" ]; then
  echo "corpora: $doc/usr_02.txt is missing: install Debian's vim-runtime (apt-get install vim-runtime, or make deps-bench)" >&2
  exit 1
fi
mkdir -p out/cpt
nonblank() { grep -hv '^[[:space:]]*$' "$@"; }
nonblank "$doc/usr_02.txt" "$doc/usr_03.txt" "$doc/usr_04.txt" > out/cpt/vim-train.txt
nonblank "$doc/usr_20.txt" > out/cpt/vim-val.txt
nonblank "$licenses/GPL-3" > out/cpt/licenses-train.txt
nonblank "$licenses/Apache-2.0" > out/cpt/licenses-val.txt
