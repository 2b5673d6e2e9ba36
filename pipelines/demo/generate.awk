# Raw records for the demo task, "Which is the largest of a, b and c?", as Alpaca-style JSONL;
# a few records are dirty on purpose (empty answers, exact duplicates, a broken line) so the
# clean stage has work to do. Each question is drawn once (three distinct numbers below m), so
# the test questions are not in training.
# Park–Miller LCG: exact in awk's doubles, so every awk gives the same file for the same seed.
function rnd(m) { x = (x * 16807) % 2147483647; return x % m }
BEGIN {
  x = seed + 1
  for (i = 1; i <= n; i++) {
    do { a = rnd(m); b = rnd(m); c = rnd(m) } while (a == b || b == c || a == c || (a, b, c) in seen)
    seen[a, b, c] = 1
    r = a > b ? a : b; r = r > c ? r : c
    q = sprintf("Which is the largest of %d, %d and %d?", a, b, c)
    line = sprintf("{\"instruction\": \"%s\", \"input\": \"\", \"output\": \"%d\"}", q, r)
    if (i % 37 == 0) line = sprintf("{\"instruction\": \"%s\", \"input\": \"\", \"output\": \"\"}", q)
    if (i % 97 == 0) line = "{\"instruction\": \"Which is"
    print line
    if (i % 53 == 0) print line
  }
}
