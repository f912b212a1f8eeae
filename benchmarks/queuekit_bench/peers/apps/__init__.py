"""What each framework's worker CLI imports: the no-op task that signals its completion by UDP.

Every module reads the broker URL, queue and UDP port from the environment
(:class:`queuekit_bench.peers.Workload.env`).
"""
