"""Hand-written YAML with mistakes, through the real CLI: settings files (`--config FILE.yaml`, `globmed train sft
--recipe FILE.yaml`), a language table (GLOBMED_LANGUAGES_PATH) and a dataset registry entry
(GLOBMED_REGISTRY_PATH). The error names the file, the line and the field, the run exits 2 before anything is
written, and a flag overrides the file's value."""

from __future__ import annotations

from .conftest import ROOT, SAMPLE_SOURCES


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def assert_refused(res, out, *words):
    assert res.returncode == 2, str(res)
    assert "Traceback" not in res.output, str(res)
    for word in words:
        assert word in res.output, f"{word!r} not in:\n{res.output}"
    assert not out.exists(), f"{out} was written"


def test_a_misspelled_field_names_its_line_and_the_field_meant(tmp_path, cli):
    recipe = write(tmp_path / "r.yaml", "model: tiny\nsources: sample\n\nlearnin-rate: 1e-3\nseed: 1\nseeed: 3\n")
    out = tmp_path / "out"
    res = cli("train", "sft", "--recipe", recipe, "--output-dir", out)
    assert_refused(res, out, f"{recipe}:4: unknown setting 'learnin_rate' (did you mean 'learning_rate'?)",
                   f"{recipe}:6: unknown setting 'seeed' (did you mean 'seed'?)", "known settings:")


def test_a_bad_value_names_its_line_unless_a_flag_replaces_it(tmp_path, cli):
    recipe = write(tmp_path / "r.yaml", f"model: tiny\nsources: {tmp_path / 'nowhere'}\nlearning_rate: fast\n")
    out = tmp_path / "out"
    res = cli("train", "sft", "--recipe", recipe, "--output-dir", out)
    assert_refused(res, out, f"{recipe}:3: setting 'learning_rate': could not convert string to float: 'fast'")
    # the flag wins over the file: the next problem is the missing sources folder
    res = cli("train", "sft", "--recipe", recipe, "--output-dir", out, "--learning-rate", "1e-3")
    assert_refused(res, out, "nowhere: sources folder not found")
    assert "learning_rate" not in res.output


def test_yaml_that_does_not_parse_names_the_line(tmp_path, cli):
    config = write(tmp_path / "build.yaml", f"sources: {SAMPLE_SOURCES}\nout: [{tmp_path / 'built'}\n")
    res = cli("data", "build", "--config", config)
    assert_refused(res, tmp_path / "built", f"{config}:3: cannot read settings: not valid YAML")
    listing = write(tmp_path / "list.yaml", "- sources\n- out\n")
    res = cli("data", "build", "--config", listing)
    assert res.returncode == 2 and f"{listing}: settings must be a mapping" in res.output


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_language_table_mistake_names_the_table_line_and_field(tmp_path, cli):
    """Hausa added as data, with the NLI answer format lacking its {labels} slot."""
    langs = tmp_path / "langs"
    langs.mkdir()
    text = (ROOT / "globmed" / "languages" / "en.yaml").read_text(encoding="utf-8").replace("code: en", "code: ha")
    text = text.replace('"Reply with exactly one of these words: {labels}."', '"Reply with one word."')
    table = write(langs / "ha.yaml", text)
    out = tmp_path / "built"
    res = cli("data", "build", "--sources", SAMPLE_SOURCES, "--out", out, GLOBMED_LANGUAGES_PATH=str(langs))
    assert_refused(res, out, f"{table}:{line_of(text, 'Reply with one word')}: field 'nli.answer_format' must "
                             "contain {labels}")
    write(langs / "ha.yaml", text.replace("code: ha", "code: hausa"))
    res = cli("data", "build", "--sources", SAMPLE_SOURCES, "--out", out, GLOBMED_LANGUAGES_PATH=str(langs))
    assert_refused(res, out, f"{table}:{line_of(text, 'code: ha')}: field 'code' is 'hausa' but the file is named ha.yaml")


def test_a_registry_entry_mistake_names_the_file_line_and_field(tmp_path, cli):
    text = "# one more source\nmydata:\n  title: Mine\n  task: summaries\n  reader: medqa\n  language: en\n"
    extra = write(tmp_path / "more.yaml", text)
    out = tmp_path / "built"
    res = cli("data", "build", "--sources", SAMPLE_SOURCES, "--out", out, GLOBMED_REGISTRY_PATH=str(extra))
    assert_refused(res, out, f"{extra}:2: entry 'mydata': missing field(s) files, licence, redistributable")
    text += '  licence: cc-by-4.0\n  redistributable: true\n  files: ["mine/*.jsonl"]\n'
    extra = write(tmp_path / "more.yaml", text)
    out = tmp_path / "built"
    res = cli("data", "build", "--sources", SAMPLE_SOURCES, "--out", out, GLOBMED_REGISTRY_PATH=str(extra))
    assert_refused(res, out, f"{extra}:4: entry 'mydata': field 'task' must be one of")
    write(extra, text.replace("task: summaries", "task: mcqa\n  licence_url: x"))
    res = cli("data", "build", "--sources", SAMPLE_SOURCES, "--out", out, GLOBMED_REGISTRY_PATH=str(extra))
    assert_refused(res, out, f"{extra}:5: entry 'mydata': unknown field(s) licence_url")
