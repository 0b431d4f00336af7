"""The rosbags typestore every bag tool uses: ROS 2 Jazzy types plus autovla_msgs.

Generator, replayer, recorder and metrics all read and write autovla_msgs messages with
``rosbags``; the custom definitions come from the installed ``share/autovla_msgs/msg`` (the
same .msg files rosidl built), so a bag's message definitions match the live graph's.
"""

from functools import lru_cache
from pathlib import Path

from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import StoragePlugin
from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from rosbags.typesys.store import Typestore

STORAGE_PLUGINS = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
BAG_VERSION = 9
# Offered QoS recorded for a latched topic (/tf_static), so `ros2 bag play` latches it again.
LATCHED_BAG_QOS = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE,
                      QosDurability.TRANSIENT_LOCAL, QosTime(0, 0), QosTime(0, 0),
                      QosLiveliness.AUTOMATIC, QosTime(0, 0), False)


def autovla_msg_dir() -> Path:
    """Directory holding the autovla_msgs .msg files (install space, else the source tree)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory('autovla_msgs')) / 'msg'
        if installed.is_dir():
            return installed
    except (ImportError, LookupError, ValueError):
        pass
    source = Path(__file__).resolve().parents[2] / 'autovla_msgs' / 'msg'
    if source.is_dir():
        return source
    raise FileNotFoundError('autovla_msgs message definitions not found: run `make build` '
                            'and `source tools/activate.sh`')


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """Jazzy typestore with every autovla_msgs/msg/* type registered (built once)."""
    store = get_typestore(Stores.ROS2_JAZZY)
    types = {}
    for path in sorted(autovla_msg_dir().glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(encoding='utf-8'),
                                        f'autovla_msgs/msg/{path.stem}'))
    store.register(types)
    return store


def msg_class(type_name: str):
    """Return the rosbags dataclass of ``type_name`` (e.g. 'sensor_msgs/msg/CameraInfo')."""
    return typestore().types[type_name]
