import json

from click.testing import CliRunner

from prove.cli import cli


def test_help_lists_verbs():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for verb in ("models", "doctor", "trust-checkpoint"):
        assert verb in result.output


def test_models_lists_the_zoo():
    result = CliRunner().invoke(cli, ["models", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len([r for r in rows if not r["tiny"]]) >= 7
    by_name = {r["name"]: r for r in rows}
    assert by_name["segformer_mit-b3"]["pretrained"].endswith(".pth")
    table = CliRunner().invoke(cli, ["models"])
    assert "segformer_mit-b3" in table.output and "mask2former_swin-b" in table.output


def test_doctor_trains_a_step():
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "All checks passed." in result.output and "train step" in result.output


def test_user_error_is_one_line_and_exit_code_2():
    result = CliRunner().invoke(cli, ["doctor", "--model", "no_such_model"])
    assert result.exit_code == 2
    assert "unknown model 'no_such_model'" in result.output and "Traceback" not in result.output


def test_list_shows_every_registry_in_every_format():
    from prove.cli.listing import LISTINGS

    for kind, listing in LISTINGS.items():
        table = CliRunner().invoke(cli, ["list", kind])
        assert table.exit_code == 0, table.output
        rows = json.loads(CliRunner().invoke(cli, ["list", kind, "--format", "json"]).output)
        assert rows and all(r["name"] in table.output for r in rows), kind
        if listing.markdown is not None:
            markdown = CliRunner().invoke(cli, ["list", kind, "--format", "markdown"]).output
            assert markdown.startswith("| ") and f"`{rows[0]['name']}`" in markdown, kind
    unknown = CliRunner().invoke(cli, ["list", "strategys"])
    assert unknown.exit_code == 2 and "strategies" in unknown.output


def test_help_lists_the_choices_from_the_registries():
    from prove.sweeps.presets import PRESETS

    ablation = CliRunner().invoke(cli, ["ablation", "--help"], terminal_width=400).output
    assert all(name in ablation for name in PRESETS.names()), ablation  # `extended` too
    train = CliRunner().invoke(cli, ["train", "--help"], terminal_width=400).output
    assert "`prove list datasets`" in train and "`prove datasets`" not in train


def test_models_is_list_models():
    assert CliRunner().invoke(cli, ["models"]).output == CliRunner().invoke(cli, ["list", "models"]).output
