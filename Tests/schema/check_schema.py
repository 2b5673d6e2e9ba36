#!/usr/bin/env python3
"""Checks schemas/pipeline.schema.json with a real JSON Schema validator (the oracle).

usage: python check_schema.py SCHEMA CORPUS_DIR PIPELINES_DIR... [-v]

1. SCHEMA is a valid JSON Schema 2020-12.
2. Every *.yaml / *.yml / *.json in each PIPELINES_DIR and in CORPUS_DIR/valid validates.
3. Every row of CORPUS_DIR/invalid/MANIFEST.tsv (file, at, schema, message) holds:
     unparseable  PyYAML cannot load the file, or it loads as None (empty / comment only);
     reject       it loads and the schema reports at least one error;
     accept       it loads and the schema reports none (the error is one a schema cannot
                  express: cycles, undefined ${var}, duplicate keys, ...; hone must still
                  report it, which the Swift corpus test checks).
   Every file in CORPUS_DIR/invalid must have a row, and every row a file.

Prints one line per failure, then `schema: N passed, M failed`; exits 1 if M > 0.
"""
import os
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError:
    print("schema: skipped (jsonschema/pyyaml not installed: run make deps)")
    sys.exit(0)

PIPELINE_EXTS = (".yaml", ".yml", ".json")
VERDICTS = ("unparseable", "reject", "accept")
# A file with more aliases than this is an alias bomb: the oracle does not load it (PyYAML
# would share the nodes, but a validator walking the result would not).
ALIAS_LIMIT = 50
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Report:
    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def ok(self, note=None):
        self.passed += 1
        if note:
            print(f"note: {note}")

    def fail(self, what):
        self.failed += 1
        print(f"FAIL {what}")


def load(path):
    """The file's value as PyYAML reads it (bytes in: PyYAML checks the encoding itself)."""
    with open(path, "rb") as f:
        return yaml.load(f.read(), Loader=Loader)


def errors(validator, doc):
    return sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path).__repr__())


def describe(err):
    where = ".".join(str(p) for p in err.absolute_path) or "(top)"
    return f"{where}: {err.message}"


def check_valid(validator, path, report):
    try:
        doc = load(path)
    except yaml.YAMLError as e:
        report.fail(f"{path}: expected valid, but PyYAML cannot load it: {one_line(e)}")
        return
    errs = errors(validator, doc)
    if errs:
        report.fail(f"{path}: expected valid, but the schema says: " + "; ".join(describe(e) for e in errs[:5]))
    else:
        report.ok()


def one_line(e):
    return " ".join(str(e).split())


def read_manifest(path, report):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 4:
                report.fail(f"{path}:{n}: expected 4 tab-separated columns, got {len(cols)}")
                continue
            name, at, verdict, message = cols
            if not re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", at):
                report.fail(f"{path}:{n}: 'at' must be LINE:COLUMN (1-based), got {at!r}")
                continue
            if verdict not in VERDICTS:
                report.fail(f"{path}:{n}: schema column must be one of {', '.join(VERDICTS)}, got {verdict!r}")
                continue
            if not message.strip():
                report.fail(f"{path}:{n}: empty message")
                continue
            rows.append((name, at, verdict, message))
    return rows


def check_row(validator, invalid_dir, row, report):
    name, at, verdict, message = row
    path = os.path.join(invalid_dir, name)
    label = f"{path} ({verdict}, {message!r})"
    if not os.path.isfile(path):
        report.fail(f"{label}: listed in MANIFEST.tsv but missing")
        return
    with open(path, "rb") as f:
        raw = f.read()
    if raw.count(b"*") > ALIAS_LIMIT:
        report.ok(f"{path}: alias bomb: not expanded by the oracle")
        return
    try:
        doc = load(path)
    except yaml.YAMLError as e:
        if verdict == "unparseable":
            report.ok()
        else:
            report.fail(f"{label}: PyYAML cannot load it: {one_line(e)}")
        return
    if verdict == "unparseable":
        if doc is None:
            report.ok()
        else:
            report.fail(f"{label}: expected unparseable, but PyYAML loads it as {type(doc).__name__}")
        return
    errs = errors(validator, doc)
    if verdict == "reject" and not errs:
        report.fail(f"{label}: the schema accepts it")
    elif verdict == "accept" and errs:
        report.fail(f"{label}: the schema rejects it: " + "; ".join(describe(e) for e in errs[:5]))
    else:
        if report.verbose and errs:
            print(f"{name}: " + "; ".join(describe(e) for e in errs))
        report.ok()


def pipeline_files(folder):
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [os.path.join(root, f) for f in sorted(files) if f.endswith(PIPELINE_EXTS)]
    return out


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    if len(args) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    schema_path, corpus = args[0], args[1]
    pipeline_dirs = args[2:]
    report = Report(verbose)

    import json
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        report.ok()
    except jsonschema.SchemaError as e:
        report.fail(f"{schema_path}: not a valid JSON Schema 2020-12: {one_line(e.message)}")
        print(f"schema: {report.passed} passed, {report.failed} failed")
        return 1
    validator = jsonschema.Draft202012Validator(schema)

    for folder in pipeline_dirs + [os.path.join(corpus, "valid")]:
        if not os.path.isdir(folder):
            report.fail(f"{folder}: no such folder")
            continue
        for path in pipeline_files(folder):
            check_valid(validator, path, report)

    invalid_dir = os.path.join(corpus, "invalid")
    manifest = os.path.join(invalid_dir, "MANIFEST.tsv")
    if not os.path.isfile(manifest):
        report.fail(f"{manifest}: missing")
    else:
        rows = read_manifest(manifest, report)
        listed = [r[0] for r in rows]
        for name in sorted(set(n for n in listed if listed.count(n) > 1)):
            report.fail(f"{manifest}: {name} is listed more than once")
        for name in sorted(os.listdir(invalid_dir)):
            if name not in ("MANIFEST.tsv", ".keep") and not name.startswith(".") and name not in listed:
                report.fail(f"{os.path.join(invalid_dir, name)}: not listed in MANIFEST.tsv")
        for row in rows:
            check_row(validator, invalid_dir, row, report)

    print(f"schema: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
