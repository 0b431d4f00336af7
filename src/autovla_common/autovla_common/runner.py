"""Start a node, spin it, and leave cleanly: exit 0 on SIGINT, 1 on a start-up error."""

from typing import Callable, Optional, Sequence

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node


class StartupError(RuntimeError):
    """A node cannot start (bad parameter, missing model...); the message says why."""


def run_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None,
             threads: int = 1) -> int:
    """Create the node with ``make_node`` and spin it until shutdown; return an exit code."""
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        node = make_node()
        if threads > 1:
            executor = MultiThreadedExecutor(num_threads=threads)
            executor.add_node(node)
            executor.spin()
        else:
            rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (StartupError, ParameterException, ValueError) as error:
        rclpy.logging.get_logger('autovla').fatal(f'cannot start: {error}')
        code = 1
    except RuntimeError:   # after StartupError, which is one
        # A signal shut the context down while the executor was using it: between its ok()
        # check and its wait (RCLError), or inside take_message (pybind11's RuntimeError
        # 'Unable to convert call argument'). A shutdown like any other, not a failure.
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code
