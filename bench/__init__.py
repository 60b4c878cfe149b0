"""`make bench`: Switchboard's hot paths measured against bare pika/psycopg2 baselines.

Everything runs against the local RabbitMQ and PostgreSQL, in a vhost and a database of
its own (bench/env.py), created at the start and dropped at the end. See docs/benchmarks.md.
"""
