from autovla_planner.history_spacing import spacing_note


def test_trained_spacing_adds_nothing():
    assert spacing_note(2.0) == ''
    assert spacing_note(1 / 0.52) == ''     # within 50 ms of 0.5 s


def test_keyframe_spacing_is_named_with_the_trained_one():
    assert spacing_note(1 / 3.0) == ('History frames were 3.00 s apart; the model was trained '
                                     'on 0.50 s.')


def test_nonsense_rates_add_nothing():
    assert spacing_note(0.0) == '' and spacing_note(float('nan')) == ''
