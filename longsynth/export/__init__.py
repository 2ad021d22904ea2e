"""Writing builds: Parquet shards, RULER-style jsonl, the dataset card and manifest."""
