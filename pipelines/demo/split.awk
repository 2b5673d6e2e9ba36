# Deterministic 70/15/15 split: each record goes by a hash of its text and the seed, so the same
# record lands in the same split whatever the order of the file.
function h(s,   i, v) { v = seed + 7; for (i = 1; i <= length(s); i++) v = (v * 31 + index(chars, substr(s, i, 1))) % 1000003; return v }
BEGIN { chars = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~" }
{
  r = h($0) % 100
  if (r < 70) { print > (dir "/train.jsonl"); tr++ } else if (r < 85) { print > (dir "/val.jsonl"); va++ } else { print > (dir "/test.jsonl"); te++ }
}
END { printf("{\"train\": %d, \"val\": %d, \"test\": %d}\n", tr, va, te) > metrics }
