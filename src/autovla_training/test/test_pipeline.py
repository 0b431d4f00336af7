"""train_reasoning_model chains BC, SFT and RFT through their files."""

from pathlib import Path

from autovla_planner.model_files import DATA_DIR

from autovla_training import grpo, pipeline, sft, train


def option(argv, name):
    return argv[argv.index(name) + 1]


def record_stages(monkeypatch, codes=None):
    codes = codes or {}
    calls = []
    for name, module in (('bc', train), ('sft', sft), ('rft', grpo)):
        monkeypatch.setattr(module, 'main', lambda argv, name=name: calls.append((name, argv))
                            or codes.get(name, 0))
    return calls


def test_each_stage_starts_from_the_weights_the_previous_one_wrote(monkeypatch, tmp_path):
    # The stages themselves are tested in test_default_model.py, test_dual_mode.py and
    # test_grpo.py; here only what one hands the next (really run they take over an hour).
    calls = record_stages(monkeypatch)
    assert pipeline.main(['--work-dir', str(tmp_path / 'w'), '--out-dir', str(tmp_path / 'o'),
                          '--bc', '--epochs 1', '--sft', '--train-seeds 3 --minutes 1',
                          '--rft', '--steps 5']) == 0
    assert [name for name, _ in calls] == ['bc', 'sft', 'rft']
    (_, bc_argv), (_, sft_argv), (_, rft_argv) = calls
    for argv in (bc_argv, sft_argv, rft_argv):
        assert option(argv, '--work-dir') == str(tmp_path / 'w')
        assert option(argv, '--out-dir') == str(tmp_path / 'o')
    assert bc_argv[-2:] == ['--epochs', '1']
    assert option(sft_argv, '--bc-dir') == str(tmp_path / 'o')
    assert sft_argv[-4:] == ['--train-seeds', '3', '--minutes', '1']
    assert Path(option(rft_argv, '--init-weights')) == tmp_path / 'o' / sft.SFT_WEIGHTS.name
    assert Path(option(rft_argv, '--init-record')) == tmp_path / 'o' / sft.SFT_RECORD.name
    assert rft_argv[-2:] == ['--steps', '5']


def test_the_default_settings_are_the_shipped_runs(monkeypatch, tmp_path):
    calls = record_stages(monkeypatch)
    assert pipeline.main(['--work-dir', str(tmp_path)]) == 0
    shipped = {'bc': 'sim_bc_training.yaml', 'sft': sft.SFT_RECORD.name,
               'rft': grpo.RFT_RECORD.name}
    for name, argv in calls:
        # the command, without the BC record's remark in parentheses
        command = train.load_record(DATA_DIR / shipped[name])['command'].split(' (')[0].split()
        paths = ('--work-dir', '--out-dir', '--bc-dir', '--init-weights', '--init-record')
        settings = [word for word in command if word.startswith('--') and word not in paths
                    and word != '--log-every']
        for setting in settings:
            assert option(argv, setting) == option(command, setting), (name, setting)


def test_from_bundled_bc_skips_behaviour_cloning(monkeypatch, tmp_path):
    calls = record_stages(monkeypatch)
    assert pipeline.main(['--work-dir', str(tmp_path), '--from-bundled-bc']) == 0
    assert [name for name, _ in calls] == ['sft', 'rft']
    assert option(calls[0][1], '--bc-dir') == str(DATA_DIR)


def test_a_failed_stage_stops_the_chain(monkeypatch, tmp_path):
    calls = record_stages(monkeypatch, codes={'sft': 3})
    assert pipeline.main(['--work-dir', str(tmp_path)]) == 3
    assert [name for name, _ in calls] == ['bc', 'sft']
