"""Start nodes, spin them, and leave cleanly: exit 0 on SIGINT/SIGTERM, 1 on a start-up error.

One shutdown path for a node in its own process and for the whole stack in one process
(``autovla_bringup --single-process``): rclpy's own signal handlers, which shut the context
down from a C++ thread while the executor and the nodes are still in use, are replaced by
Python ones that only record the request. The executor waits at most WAKE_PERIOD_S at a
time, so the request is seen even when nothing else wakes it (a simulated clock that
stopped), and a signal that arrives while a node is still being built ends the run right
after. Then every node that defines ``last_words()`` says them while it can still publish
(the safety node's final stop command), the nodes are destroyed in the order they were
created (the stack's safety node last), and the context shut down.
"""

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


# Longest wait of the executor between two looks at the stop requests.
WAKE_PERIOD_S = 0.1


def stop_requests() -> List[int]:
    """Make SIGINT and SIGTERM only record themselves; return the list they are appended to.

    An append is all a handler may do: it runs wherever the signal lands, even inside a
    previous handler (threading.Event.set() there raised from its own lock) or a bag's close.
    """
    requested: List[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, _frame: requested.append(received))
    return requested


def run_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None,
             threads: int = 1) -> int:
    """Create the node with ``make_node`` and spin it until shutdown; return an exit code."""
    return run_nodes([make_node], args, threads)


def run_nodes(makers: Sequence[Callable[[], Node]], args: Optional[Sequence[str]] = None,
              threads: int = 1, report: Optional[Callable[[str], None]] = None) -> int:
    """Create the nodes in order, spin them in one executor until shutdown; an exit code.

    ``threads`` > 1 spins a MultiThreadedExecutor with that many threads (0: its default).
    A start-up failure is logged (or given to ``report``) and returns 1.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    requested = stop_requests()
    nodes: List[Node] = []
    code = 0
    try:
        executor = (MultiThreadedExecutor(num_threads=threads or None) if threads != 1
                    else SingleThreadedExecutor())
        for make_node in makers:
            if requested:
                break
            nodes.append(make_node())
            executor.add_node(nodes[-1])
        while rclpy.ok() and not requested:
            executor.spin_once(timeout_sec=WAKE_PERIOD_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (StartupError, ParameterException, ValueError) as error:
        (report or rclpy.logging.get_logger('autovla').fatal)(f'cannot start: {error}')
        code = 1
    except RuntimeError:   # after StartupError, which is one
        # The context was shut down while the executor was using it: between its ok()
        # check and its wait (RCLError), or inside take_message (pybind11's RuntimeError
        # 'Unable to convert call argument'). A shutdown like any other, not a failure.
        if rclpy.ok():
            raise
    finally:
        if rclpy.ok():
            for node in nodes:
                last_words = getattr(node, 'last_words', None)
                if last_words is not None:
                    last_words()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return code
