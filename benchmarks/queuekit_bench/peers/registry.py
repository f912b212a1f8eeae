"""The peer frameworks the bench knows, by broker URL scheme."""

from __future__ import annotations

from queuekit_bench.peers import Peer
from queuekit_bench.peers.dramatiq import DramatiqPeer
from queuekit_bench.peers.pgqueuer import PgqueuerPeer
from queuekit_bench.peers.rq import RqPeer


def all_peers() -> list[Peer]:
    """One fresh adapter per framework (each keeps per-run state)."""
    return [DramatiqPeer(), RqPeer(), PgqueuerPeer()]


def peers_for(scheme: str) -> list[Peer]:
    """The peers that run on brokers of ``scheme`` (``redis``, ``amqp``, ``postgresql``, ...)."""
    family = {"rediss": "redis", "amqps": "amqp", "postgres": "postgresql"}.get(scheme, scheme)
    return [peer for peer in all_peers() if family in peer.schemes]
