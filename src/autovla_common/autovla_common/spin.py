"""An rclpy node with a context of its own, spun by a background thread.

For tools that talk to a running stack from ordinary Python code (bag replay, recording,
tests, benchmarks) without taking over the process's main thread or global rclpy context.
"""

from contextlib import contextmanager
import threading
from typing import Iterator, Optional

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


@contextmanager
def spinning_node(name: str, namespace: str = '',
                  domain_id: Optional[int] = None) -> Iterator[Node]:
    """Yield a node in its own context whose callbacks run on a background thread.

    ``domain_id`` None: the domain of ROS_DOMAIN_ID, as every node.
    """
    context = rclpy.Context()
    # args=[]: the process's own command line (e.g. a tool's --remap A:=B) is not ROS's.
    rclpy.init(args=[], context=context, domain_id=domain_id)
    node = Node(name, namespace=namespace or '', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin():
        while context.ok():
            try:
                executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - the context was shut down mid-spin
                if context.ok():
                    raise

    thread = threading.Thread(target=spin, name=f'{name}_spin', daemon=True)
    thread.start()
    try:
        yield node
    finally:
        context.try_shutdown()
        thread.join(timeout=5)
        executor.shutdown()
        node.destroy_node()
