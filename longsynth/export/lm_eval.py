"""`longsynth export lm-eval DIR OUT`: an lm-evaluation-harness task folder over a build.

One YAML per config (`longsynth_<task>.yaml`), reading the build's Parquet shards through
`data_files` (absolute paths, so OUT can live anywhere), plus `longsynth_utils.py`, whose
`process_results` scores each generation with `longsynth.scoring` (the task's own metric). The model
is given the row's `prompt` (the length contract's, answer prefix included) and generates at most the
row's `reserve` tokens, greedily. Run it with `lm_eval --include_path OUT --tasks longsynth_<task>`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..dataset import as_pattern, open_dataset
from ..inspect import require_valid
from ..outputs import OutputFolder

UTILS = "longsynth_utils.py"
UTILS_TEXT = '''"""Scoring for the longsynth tasks in this folder (written by `longsynth export lm-eval`)."""

from longsynth.scoring import score


def doc_to_target(doc):
    return doc["answers"][0] if len(doc["answers"]) else ""


def process_results(doc, results):
    """The row's own metric (`longsynth.scoring.score`) on the generated text."""
    return {"score": score(doc, results[0])}
'''


def task_config(task: str, shards: list[Path], reserve: int) -> dict:
    return {
        "task": f"longsynth_{task}",
        "tag": ["longsynth"],
        "dataset_path": "parquet",
        "dataset_kwargs": {"data_files": {"test": [as_pattern(p) for p in shards]}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{prompt}}",
        "doc_to_target": Function("longsynth_utils.doc_to_target"),
        "process_results": Function("longsynth_utils.process_results"),
        "generation_kwargs": {"until": [], "max_gen_toks": reserve, "do_sample": False, "temperature": 0.0},
        "metric_list": [{"metric": "score", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0},
    }


class Function(str):
    """A `module.name` lm-eval imports: written with its `!function` tag."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Function, lambda dumper, value: dumper.represent_scalar("!function", str(value)))


def _dump(config: dict) -> str:
    """YAML with lm-eval's `!function` tags as tags (by a representer: editing the text would also
    edit a folder name that happens to hold `'!function `)."""
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def export_lm_eval(directory: Path, out: Path) -> dict[str, Path]:
    """Write one task YAML per config and the scoring module; the YAML path of each task."""
    directory, out = Path(directory).resolve(), Path(out)
    folder = OutputFolder(out, "the export folder")
    dataset = open_dataset(directory, evaluation=True)
    require_valid(dataset)
    written = {}
    for task in dataset.tasks:
        shards = list(dataset.shards[task])
        reserve = int(dataset.frame(task, ["reserve"])["reserve"].max()) if shards else 128
        config = _dump(task_config(task, shards, reserve)).encode("utf-8")
        written[task] = folder.write(f"longsynth_{task}.yaml", config)
    folder.write(UTILS, UTILS_TEXT.encode("utf-8"))
    return written
