"""Start a node, spin it, and leave cleanly: exit 0 on SIGINT, 1 on a start-up error."""

import signal
from typing import Callable, List, Optional, Sequence

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import (
    ExternalShutdownException,
    MultiThreadedExecutor,
    SingleThreadedExecutor,
)
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions


class StartupError(RuntimeError):
    """A node cannot start (bad parameter, missing model...); the message says why."""


# Longest wait of an executor whose signals are handled by Python (see run_node).
WAKE_PERIOD_S = 0.1


def run_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None,
             threads: int = 1, last_words: Optional[Callable[[Node], None]] = None) -> int:
    """Create the node with ``make_node`` and spin it until shutdown; return an exit code.

    ``last_words(node)``, if given, runs once the spinning ends for any reason (SIGINT,
    SIGTERM, an exception) while the node can still publish: rclpy's own signal handlers,
    which shut the context down first, are replaced by ones that only record the request.
    The executor waits at most WAKE_PERIOD_S at a time, so the request is seen even when
    nothing else wakes it (a simulated clock that stopped), and a signal that arrives while
    the node is still being built ends it right after.
    """
    requested: List[int] = []   # stop signals received
    if last_words is None:
        rclpy.init(args=args)
    else:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda received, _frame: requested.append(received))
    node = None
    code = 0
    try:
        node = make_node()
        executor = (MultiThreadedExecutor(num_threads=threads) if threads > 1
                    else SingleThreadedExecutor())
        executor.add_node(node)
        if last_words is None:
            executor.spin()
        else:
            while rclpy.ok() and not requested:
                executor.spin_once(timeout_sec=WAKE_PERIOD_S)
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
            if last_words is not None and rclpy.ok():
                last_words(node)
            node.destroy_node()
        rclpy.try_shutdown()
    return code
