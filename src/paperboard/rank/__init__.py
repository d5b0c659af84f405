"""Ordering papers for people: feed periods (day, week, month), the trending score, hybrid
search, similar papers, "for you", digest contents and the evaluation harness."""
