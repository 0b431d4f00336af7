from autovla_replay.bagdata import BagMessage, split_frames

ANCHOR = 'cameras/CAM_FRONT/image/compressed'


def msg(topic, stamp):
    return BagMessage(topic, 'x/msg/Y', stamp, b'')


def test_frames_hold_everything_up_to_each_anchor_and_the_anchor_separately():
    messages = [msg('odometry', 0), msg('cameras/CAM_BACK/image/compressed', 10),
                msg(ANCHOR, 10), msg('odometry', 10), msg('driving_command', 10),
                msg('odometry', 15), msg(ANCHOR, 20), msg('cameras/CAM_BACK/image/compressed', 20),
                msg('odometry', 25)]
    first, second, trailing = split_frames(messages, ANCHOR)
    assert first.anchor_stamp == 10
    assert [(m.topic, m.stamp) for m in first.anchor] == [(ANCHOR, 10)]
    # Context stamped at the anchor stamp belongs to that frame even when stored after it.
    assert [(m.topic, m.stamp) for m in first.messages] == [
        ('odometry', 0), ('cameras/CAM_BACK/image/compressed', 10), ('odometry', 10),
        ('driving_command', 10)]
    assert [(m.topic, m.stamp) for m in second.messages] == [
        ('odometry', 15), ('cameras/CAM_BACK/image/compressed', 20)]
    assert [m.stamp for m in second.anchor] == [20]
    assert trailing.anchor_stamp is None and [m.stamp for m in trailing.messages] == [25]
