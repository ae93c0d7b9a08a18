"""Seed 002: self-supervised video / head-motion (IMU) correspondence as a method on the training engine."""
