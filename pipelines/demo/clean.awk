# Drops malformed records, empty answers and exact duplicates; every drop goes to the rejects
# file with its line number and reason (nothing is dropped in silence).
{
  if ($0 !~ /^\{"instruction": ".*", "input": ".*", "output": ".*"\}$/) { print FILENAME ":" NR ": malformed JSON record" > rejects; bad++; next }
  if ($0 ~ /"output": ""\}$/) { print FILENAME ":" NR ": empty output" > rejects; bad++; next }
  if (seen[$0]++) { print FILENAME ":" NR ": exact duplicate" > rejects; bad++; next }
  print; kept++
}
END { printf("{\"kept\": %d, \"rejected\": %d}\n", kept, bad) > metrics }
