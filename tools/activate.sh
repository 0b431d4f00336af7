# shellcheck shell=bash
# Source me: `source tools/activate.sh`. Puts the workspace environment into this shell:
# the sourced ROS install (if any) or the ROS-from-wheels venv, and the built overlay.
_autovla_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ! -f "$_autovla_root/.venv/bin/activate" ]]; then
  echo "autovla: no .venv yet; run 'make setup' first" >&2
  # shellcheck disable=SC2317  # exit is reached only when the file is run, not sourced
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "$_autovla_root/.venv/bin/activate"
if [[ -z "${ROS_DISTRO:-}" || ! -f "/opt/ros/${ROS_DISTRO}/setup.bash" ]]; then
  # Quirk 2: colcon/ament find the wheel-installed ROS packages through these.
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  # ROS packages the wheels lack, built by setup_env.sh (tools/ros_shims).
  if [[ -f "$VIRTUAL_ENV/opt/ros_shims/local_setup.bash" ]]; then
    # shellcheck disable=SC1091
    source "$VIRTUAL_ENV/opt/ros_shims/local_setup.bash"
  fi
fi
if [[ -f "$_autovla_root/install/setup.bash" ]]; then
  # shellcheck disable=SC1091
  source "$_autovla_root/install/setup.bash"
  # The console scripts live in install/<pkg>/lib/<pkg> (the `ros2 run` layout); without
  # ros2 (the wheels set-up) they are put on PATH, so `run_regression --help` just works.
  for _autovla_bin in "$_autovla_root"/install/*/lib/*/; do
    case ":$PATH:" in *":${_autovla_bin%/}:"*) ;; *) PATH="${_autovla_bin%/}:$PATH" ;; esac
  done
  export PATH
  unset _autovla_bin
fi
unset _autovla_root
