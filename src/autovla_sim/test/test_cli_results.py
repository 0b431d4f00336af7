"""closed_loop keeps every run of one output directory: one table for all baselines."""

import json

from autovla_sim import cli

ARGS = ['--scenarios', 'stopped_vehicle', '--duration', '3']


def test_baselines_run_one_at_a_time_end_in_one_table(tmp_path, capsys):
    out = ['--out', str(tmp_path)]
    assert cli.main(['--baselines', 'expert', '--seeds', '100,101', *ARGS, *out]) == 0
    assert cli.main(['--baselines', 'rule', '--seeds', '100', *ARGS, *out]) == 0
    # The same run again replaces its record instead of adding a second one.
    assert cli.main(['--baselines', 'rule', '--seeds', '100', *ARGS, *out]) == 0
    runs = json.loads((tmp_path / 'results.json').read_text())
    assert sorted((r['baseline'], r['seed']) for r in runs) == \
        [('expert', 100), ('expert', 101), ('rule', 100)]
    printed = capsys.readouterr().out
    table = printed[printed.rindex('Seeds 100, 101'):]
    assert table == (tmp_path / 'table.md').read_text()
    assert '| expert | 2 |' in table and '| rule | 1 |' in table


def test_runs_with_other_timing_or_fresh_start_over(tmp_path):
    out = ['--out', str(tmp_path)]
    assert cli.main(['--baselines', 'expert', '--seeds', '100', *ARGS, *out]) == 0
    assert cli.main(['--baselines', 'rule', '--seeds', '100', '--scenarios',
                     'stopped_vehicle', '--duration', '2', *out]) == 0
    assert [r['baseline'] for r in json.loads((tmp_path / 'results.json').read_text())] == \
        ['rule']
    assert cli.main(['--baselines', 'expert', '--seeds', '100', '--fresh', '--duration', '2',
                     '--scenarios', 'stopped_vehicle', *out]) == 0
    assert [r['baseline'] for r in json.loads((tmp_path / 'results.json').read_text())] == \
        ['expert']


def test_table_from_results_keeps_the_chosen_baselines_and_scenarios(tmp_path, capsys):
    out = ['--out', str(tmp_path)]
    assert cli.main(['--baselines', 'expert,rule', '--seeds', '100', '--scenarios',
                     'stopped_vehicle,cut_in', '--duration', '3', *out]) == 0
    capsys.readouterr()
    assert cli.main(['--from-results', str(tmp_path / 'results.json'), '--baselines', 'rule',
                     '--scenarios', 'cut_in']) == 0
    table = capsys.readouterr().out
    assert '| cut_in |' in table and 'stopped_vehicle' not in table
    assert '| rule | 1 |' in table and 'expert' not in table
