"""Procedural driving scenarios for the nuScenes six-camera rig, written to rosbag2."""
