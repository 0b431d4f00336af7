#!/usr/bin/env bash
# Container entry: the ROS install, the Python venv and the built workspace, then the command.
set -eo pipefail
# shellcheck disable=SC1091
source /opt/ros/jazzy/setup.bash
# shellcheck disable=SC1091
source /ws/install/setup.bash
exec "$@"
