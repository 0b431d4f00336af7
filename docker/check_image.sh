#!/usr/bin/env bash
# Build-time check of the image (docker/Dockerfile runs it): every installed executable starts
# through its own shebang, and every node creates its publishers (which loads ROS's message
# typesupport next to the venv's numpy and torch) and stops cleanly on SIGINT.
set -eo pipefail
# shellcheck disable=SC1091
source /opt/ros/jazzy/setup.bash
# shellcheck disable=SC1091
source /ws/install/setup.bash

expected_numpy="${1:?usage: check_image.sh ROS_NUMPY_VERSION}"
actual_numpy="$(python3 -c 'import numpy; print(numpy.__version__)')"
if [[ "$actual_numpy" != "$expected_numpy" ]]; then
  echo "check_image: numpy $actual_numpy in the venv, ROS was built against $expected_numpy" >&2
  exit 1
fi

executable() {
  echo "$(ros2 pkg prefix "$1")/lib/$1/$2"
}

for tool in "autovla_bringup autovla_bringup" "autovla_replay replay_bag" \
            "autovla_replay record_outputs" "autovla_scenarios generate_scenarios"; do
  read -r package name <<< "$tool"
  "$(executable "$package" "$name")" --help > /dev/null
  echo "check_image: $package/$name runs"
done

for node in "autovla_perception perception_node" "autovla_planner planner_node" \
            "autovla_safety safety_node"; do
  read -r package name <<< "$node"
  # Runs until SIGINT after 30 s; a start-up failure exits non-zero before that.
  timeout --signal=INT --preserve-status 30 "$(executable "$package" "$name")" \
    --ros-args -r __ns:=/image_check
  echo "check_image: $package/$name started and stopped cleanly"
done
