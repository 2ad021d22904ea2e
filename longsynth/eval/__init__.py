"""After a build: run a model on it (`run`), score the predictions (`score`), and report them (`report`)."""
