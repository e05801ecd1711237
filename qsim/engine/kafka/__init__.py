"""Kafka: topics of partitions, keyed producers, consumer groups (issue #17).

- :mod:`~qsim.engine.kafka.topic` the topic (the DeliveryModel), producers' clients, metrics
- :mod:`~qsim.engine.kafka.group` a consumer group: members, owners, rebalance rounds
- :mod:`~qsim.engine.kafka.member` one consumer's poll loop (the Subscription)
- :mod:`~qsim.engine.kafka.books` a group's books on one partition: offsets, lag, branches

The pure parts live in their own modules: :mod:`.partitioner` (which partition a record goes to)
and :mod:`.assignors` (which consumer of a group owns which partition).
"""
