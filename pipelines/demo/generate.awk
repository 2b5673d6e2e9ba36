# Raw arithmetic problems as Alpaca-style JSONL; a few records are dirty on purpose (empty
# answers, exact duplicates, a broken line) so the clean stage has work to do.
# Park–Miller LCG: exact in awk's doubles, so every awk gives the same file for the same seed.
function rnd(m) { x = (x * 16807) % 2147483647; return x % m }
BEGIN {
  x = seed + 1
  for (i = 1; i <= n; i++) {
    a = rnd(100); b = rnd(100)
    if (rnd(2) == 0) { op = "+"; c = a + b } else { op = "-"; c = a - b }
    line = sprintf("{\"instruction\": \"What is %d %s %d?\", \"input\": \"\", \"output\": \"%d\"}", a, op, b, c)
    if (i % 37 == 0) line = sprintf("{\"instruction\": \"What is %d %s %d?\", \"input\": \"\", \"output\": \"\"}", a, op, b)
    if (i % 97 == 0) line = "{\"instruction\": \"What is"
    print line
    if (i % 53 == 0) print line
  }
}
