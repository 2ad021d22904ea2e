"""Writing whole folders: a lost race keeps the winner's folder, a real failure is raised."""

from __future__ import annotations

import pytest

from longsynth.files import write_folder_atomically


def test_a_folder_another_process_finished_first_is_kept(tmp_path):
    folder = tmp_path / "entry"

    def write(tmp):
        (tmp / "data").write_text("ours")
        folder.mkdir()  # another process renames its finished folder into place meanwhile
        (folder / "data").write_text("theirs")

    write_folder_atomically(folder, write)
    assert (folder / "data").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]  # our temporary folder is gone


def test_a_failed_write_leaves_nothing(tmp_path):
    def write(tmp):
        (tmp / "data").write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_folder_atomically(tmp_path / "entry", write)
    assert list(tmp_path.iterdir()) == []


def test_an_index_entry_that_lost_files_is_rebuilt(tmp_path, monkeypatch):
    import longsynth.generators.nextlong.generator as nl
    from longsynth.generators.nextlong.retrieval import build_index
    from longsynth.pipeline import make_generator
    from longsynth.spec import load_spec

    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    nl._index.cache_clear()
    generator = make_generator(load_spec(None, generator="nextlong", lengths="1k", corpus="builtin:50"))
    first = generator.index
    (tmp_path / "cache" / "index" / generator.index_spec.key() / "meta.json").unlink()
    again = build_index(generator.index_spec, generator.tokenizer)
    assert again.built and list(again.chunk_texts) == list(first.chunk_texts)
