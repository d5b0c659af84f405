"""Ordering papers for people: feed periods (day, week, month) and, later, trending scores."""
