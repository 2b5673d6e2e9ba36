"""Reads TensorBoard event files with tensorboard's own EventAccumulator and prints, as JSON,
{run folder (relative): {tag: [[step, value], ...]}}. Usage: tensorboard_scalars.py LOGDIR"""
import json
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

root = sys.argv[1]
out = {}
for folder, _, files in sorted(os.walk(root)):
    if not any(f.startswith("events.out.tfevents.") for f in files):
        continue
    acc = EventAccumulator(folder)
    acc.Reload()
    out[os.path.relpath(folder, root)] = {
        tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]
    }
print(json.dumps(out, sort_keys=True))
