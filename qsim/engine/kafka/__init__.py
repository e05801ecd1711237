"""Kafka: topics of partitions, keyed producers, consumer groups (issue #17).

The pure parts live in their own modules: :mod:`.partitioner` (which partition a record goes to)
and :mod:`.assignors` (which consumer of a group owns which partition).
"""
