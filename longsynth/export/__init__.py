"""Writing a build (Parquet shards, card, manifest), checking it, and publishing it."""
