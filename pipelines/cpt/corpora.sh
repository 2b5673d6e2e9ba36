#!/bin/sh
# The corpora of pipelines/smollm2-cpt.yaml, from files Debian ships: Vim's user manual as the
# domain (three chapters to train on, a fourth held out) and the licenses in
# /usr/share/common-licenses as the general corpus (GPL-3 to replay, Apache-2.0 held out).
# Each file is one JSONL record {"text": ...} with its newlines kept, so the model reads text as
# it is written (one record a line would put an end-of-text token after every line).
set -eu
doc=/usr/share/vim/vim90/doc
licenses=/usr/share/common-licenses
if [ ! -f "$doc/usr_02.txt" ]; then
  echo "corpora: $doc/usr_02.txt is missing: install Debian's vim-runtime (apt-get install vim-runtime, or make deps-bench)" >&2
  exit 1
fi
mkdir -p out/cpt
# A file as one JSON string: backslashes and quotes escaped, tabs and newlines written as \t and
# \n, other control characters (form feeds in the licenses) dropped.
record() {
  LC_ALL=C awk 'BEGIN { printf "{\"text\": \"" }
    { gsub(/\\/, "&&"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/[\001-\010\013-\037\177]/, ""); printf "%s\\n", $0 }
    END { print "\"}" }' "$1"
}
for f in usr_02 usr_03 usr_04; do record "$doc/$f.txt"; done > out/cpt/vim-train.jsonl
record "$doc/usr_20.txt" > out/cpt/vim-val.jsonl
record "$licenses/GPL-3" > out/cpt/licenses-train.jsonl
record "$licenses/Apache-2.0" > out/cpt/licenses-val.jsonl
