"""train_reasoning_model chains the SFT stage into the RFT stage through their files."""

from pathlib import Path

from autovla_training import grpo, pipeline, sft


def test_rft_starts_from_the_weights_the_sft_stage_wrote(monkeypatch, tmp_path):
    # The stages themselves are tested in test_dual_mode.py and test_grpo.py; here only what
    # one hands the other (both really run take over an hour).
    calls = []
    monkeypatch.setattr(sft, 'main', lambda argv: calls.append(('sft', argv)) or 0)
    monkeypatch.setattr(grpo, 'main', lambda argv: calls.append(('rft', argv)) or 0)
    assert pipeline.main(['--work-dir', str(tmp_path / 'w'), '--out-dir', str(tmp_path / 'o'),
                          '--sft', '--train-seeds 3 --minutes 1', '--rft', '--steps 5']) == 0
    (first, sft_argv), (second, rft_argv) = calls
    assert (first, second) == ('sft', 'rft')
    assert sft_argv[-4:] == ['--train-seeds', '3', '--minutes', '1']
    for argv in (sft_argv, rft_argv):
        assert argv[argv.index('--work-dir') + 1] == str(tmp_path / 'w')
    weights = Path(rft_argv[rft_argv.index('--init-weights') + 1])
    record = Path(rft_argv[rft_argv.index('--init-record') + 1])
    assert weights == tmp_path / 'o' / 'sim_sft_weights.safetensors'
    assert record == tmp_path / 'o' / 'sim_sft_training.yaml'
    assert rft_argv[-2:] == ['--steps', '5']


def test_a_failed_sft_stage_stops_the_chain(monkeypatch, tmp_path):
    monkeypatch.setattr(sft, 'main', lambda argv: 3)
    monkeypatch.setattr(grpo, 'main', lambda argv: (_ for _ in ()).throw(AssertionError))
    assert pipeline.main(['--work-dir', str(tmp_path)]) == 3
