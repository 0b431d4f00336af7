"""Six cameras, odometry and route into one DrivingObservation."""
